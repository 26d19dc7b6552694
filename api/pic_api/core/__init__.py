"""Pure logic shared by the API and the Ansible filter plugins (no Flask import)."""
