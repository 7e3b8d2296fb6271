"""ViewDefinitions compiled to one SQLGlot expression tree, independent of where it runs."""
