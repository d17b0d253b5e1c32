"""Report renderers: statements and the region summary as CSV, XLSX and PDF files.

Pure functions of what they read (`service.report.views`, which the settlement's API
models satisfy): no database, no clock, no host locale or fonts. The same model always
renders to the same bytes, so an issued statement's files never change. Also the helpers
other files share: deterministic workbooks (`workbook`), Danish labels (`labels`), file
names and the `File` handed out (`files`).
"""

from service.report.pdf import statement_pdf
from service.report.tabular import statement_csv
from service.report.workbook import region_summary_xlsx, statement_xlsx

__all__ = ["region_summary_xlsx", "statement_csv", "statement_pdf", "statement_xlsx"]
