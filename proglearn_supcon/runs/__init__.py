"""Run records and the machinery around them: the results files (schema,
reading, writing, loading), their provenance and checks, the folder contract
and lock, failure flags, the numbers computed from results files, and how
runs are spread over processes or clusters and measured (memory).

Built on the estimators and the metrics; the experiment commands and the
plots build on this.
"""
