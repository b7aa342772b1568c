"""Data files shipped with chainrule (see README.md here for sources and licences)."""
