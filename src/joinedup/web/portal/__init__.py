"""The two front doors: the clinician's single view of a person and the citizen portal,
with a demo sign-in offering the synthetic ICS's personas. Mounted under ``/web``."""
