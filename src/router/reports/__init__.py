"""What the office writes from the ledger: 督办通知 and the annual report (.docx), the 一览表 (.xlsx).

The figures come from :mod:`router.reports.figures` (the ledger only); the session's topics from
:mod:`router.reports.topics` (scikit-learn); the documents from :mod:`router.reports.documents`
(python-docx) and :mod:`router.reports.workbook` (xlsxwriter).
"""
