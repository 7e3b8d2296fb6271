"""The shared outcomes framework (issue 7): indicators with Fingertips statistics (``stats``)
and Making Data Count SPC charts (``spc``)."""
