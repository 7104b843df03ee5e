"""The monthly cost estimate of a parameter file (issue 12): prices, usage, line items."""
