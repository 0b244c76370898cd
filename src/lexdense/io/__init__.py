"""Reading corpora and writing outputs safely."""
