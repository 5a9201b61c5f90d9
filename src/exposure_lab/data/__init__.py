"""Data sets, decoding, pairing and synthetic exposure rendering."""
