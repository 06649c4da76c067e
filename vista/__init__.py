"""The `vista` command: local mode and the tools that drive a Vista stack."""
