"""RQ job functions: take ids, load, act, record. They run inside an app context (see jobs/worker.py)."""
