"""Click commands kept in modules of their own (each registered in ``neurodeploy/cli.py`` with one ``add_command``)."""
