"""The cluster: which replica leads, and how followers catch up."""
