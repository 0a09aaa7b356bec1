"""flankit.evaluation: metrics, prompt robustness, eval-set readers, the grid harness, reports.

metrics (compute, filters, bootstrap_stderr) -> robustness (summarize, gaps) -> readers (BBH,
GSM8K, JSONL) and specs/catalog (what to evaluate) -> harness (evaluate) -> report (files, compare).
"""
