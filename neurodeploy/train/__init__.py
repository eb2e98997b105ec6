"""Training stage (train → quantize → map → config).

Kept import-light: nothing here imports jax. The task interface lives in :mod:`neurodeploy.train.task`
(``TaskData``, ``Task``, ``get_task``, ``load_data_file``, ``TrainError``); import from there.
"""
