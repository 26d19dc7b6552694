"""The lab: throwaway Debian 12 hosts in systemd-nspawn for tests, molecule and demos."""
