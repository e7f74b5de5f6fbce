"""Example workers: ``piper`` (a runnable reference adapter) and ``template_hf`` (a template)."""
