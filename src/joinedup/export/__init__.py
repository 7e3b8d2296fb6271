"""Secondary use: disclosure control for published outputs, pseudonymised de-identified
snapshots with the national data opt-out honoured, and Bulk Data $export."""
