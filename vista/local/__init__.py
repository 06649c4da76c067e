"""Local mode: the whole stack on one machine, with no AWS account and no Docker."""
