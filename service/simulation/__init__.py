"""`ivsettle simulate`: realistic activity for the region, driven through the service's own
use cases (plan.py decides what happens, run.py makes it happen in chronological order)."""
