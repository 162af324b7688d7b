"""Placeholder: validators of this domain are being written."""
