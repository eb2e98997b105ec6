"""Training stage (train → quantize → map → config): surrogate-gradient BPTT through :mod:`neurodeploy.sim`.

Kept import-light: nothing here imports jax. The task interface lives in :mod:`neurodeploy.train.task`
(``TaskData``, ``Task``, ``get_task``, ``load_data_file``, ``TrainError``); import from there.

- :mod:`.structure` — a Network as trainable arrays (every synapse slot, zeros included) and back
- :mod:`.architecture` — a task's default network and its calibrated initial weights
- :mod:`.losses` — cross-entropy on spike counts / synaptic current, rate MSE, rate regulariser
- :mod:`.constraints` — hardware-aware constraints: fan-in mask, bias range, quantization-aware training
- :mod:`.loop` — the optimiser loop (optax, one jit-compiled step, mismatch draws, checkpoints)
- :mod:`.run` — task → trained model.json; :mod:`.report` — the training report
"""
