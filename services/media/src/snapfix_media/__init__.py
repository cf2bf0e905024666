"""SnapFix media service. Owns photos: upload intake, validation, processing, storage, serving."""
