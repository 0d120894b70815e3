"""Report files (``ccpulse report``): satisfaction, retention and team templates as HTML or CSV,
built from the read API's answers (docs/reports.md)."""
