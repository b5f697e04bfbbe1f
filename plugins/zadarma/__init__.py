"""Zadarma (and Novofon) telephony for Mayak: see ``plugin.py`` and ``README.md``."""
