"""Bulk Data $export (HL7 FHIR Bulk Data Access IG): kick-off, status, manifest, files, cancel,
with jobs kept in the record's database so they survive a restart.

Mount on a server from ``joinedup.server.app.create_app``::

    from joinedup.export.bulk import mount_bulk_export
    mount_bulk_export(app, settings.data_dir / "bulk-export")
"""

from joinedup.export.bulk.routes import mount_bulk_export
from joinedup.export.bulk.service import BulkExportService

__all__ = ["BulkExportService", "mount_bulk_export"]
