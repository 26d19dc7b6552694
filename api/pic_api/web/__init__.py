"""The HTTP layer: one blueprint per area, over the managers."""
