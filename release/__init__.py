"""What ships: the kruise-manager image (`image.py`, `make image`, built without Docker) and the chart
release (`chart.py`, `make release`: stamp, package and index the chart). Both use the sandbox's tools; the
generator writes the chart's content, this package only packages it."""
