"""XLSForm in and out: an office's form (ODK, KoBoToolbox, SurveyCTO) as healthdial
survey YAML, one file per language, and a survey back as a form. This package owns
the translation; pyxform owns reading and checking the workbook."""
