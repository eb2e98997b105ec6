"""BoardState: the digital contents of a board as dense arrays (decode ↔ encode, bit for bit).

``board_state(cfg)`` reads a HardwareConfig into arrays indexed [chip slot, core, neuron(, entry)]
— bias codes, latches, CAM (tag, dendrite, mask), SRAM (tag, core mask, hops) — keeping every
detail of the file (list orders, absent parameters, unused neurons; the chips' chip-level parameter
maps are carried as they are, not decoded) so that ``encode_state(board_state(cfg))`` gives the
identical config, byte for byte.
:func:`neurodeploy.config.decode.decode` derives the network the chip computes from a BoardState.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..device.dendrites import CAM_DENDRITE_INDEX, CAM_DENDRITES
from ..device.masks import core_mask_from_int, core_mask_to_int, mask_from_str, mask_to_str
from .config_json import CHIP_PARAMETER_FIELDS, LATCHES, ChipConfig, Code, CoreConfig, Destination, HardwareConfig, NeuronConfig



@dataclass
class BoardState:
    cfg: HardwareConfig                  # header, inputs, outputs, placement (kept as they are)
    chip_ids: np.ndarray                 # [C] chip id of each chip slot (file order)
    positions: np.ndarray                # [C, 2]
    core_ids: list                       # [C] list of core ids in file order
    params: list                         # [C] list of {core: {name: (coarse, fine)}} in file order
    chip_parameters: list                # [C] {ChipConfig chip-level field: its value} (kept, not decoded)
    neuron_order: list                   # [C] {core: [neuron ids in file order]}
    configured: np.ndarray               # [C, 4, 256] bool
    latches: np.ndarray                  # [C, 4, 256, len(LATCHES)] bool
    cam_len: np.ndarray                  # [C, 4, 256] entries listed
    cam_tag: np.ndarray                  # [C, 4, 256, 64]
    cam_dendrite: np.ndarray             # [C, 4, 256, 64] index into dendrites.CAM_DENDRITES
    cam_mask: np.ndarray                 # [C, 4, 256, 64] bit b = SYAM_Wb_P
    cam_flags: dict                      # (slot c, core, neuron) → {entry: [flags]}
    sram_len: np.ndarray                 # [C, 4, 256]
    sram_tag: np.ndarray                 # [C, 4, 256, 4]
    sram_core: np.ndarray                # [C, 4, 256, 4] core mask bits
    sram_x: np.ndarray                   # [C, 4, 256, 4]
    sram_y: np.ndarray                   # [C, 4, 256, 4]


def board_state(cfg: HardwareConfig, geometry=None) -> BoardState:
    cores, neurons, cam, sram = 4, 256, 64, 4
    if geometry is not None:
        cores, neurons, cam, sram = (geometry.cores_per_chip, geometry.neurons_per_core,
                                     geometry.cam_entries_per_neuron, geometry.sram_entries_per_neuron)
    C = len(cfg.chips)
    shape = (C, cores, neurons)
    st = BoardState(
        cfg=cfg, chip_ids=np.array([c.chip for c in cfg.chips], np.int64),
        positions=np.array([list(c.position) for c in cfg.chips], np.int64).reshape(C, 2),
        core_ids=[], params=[], chip_parameters=[], neuron_order=[],
        configured=np.zeros(shape, bool), latches=np.zeros(shape + (len(LATCHES),), bool),
        cam_len=np.zeros(shape, np.int64), cam_tag=np.zeros(shape + (cam,), np.int64),
        cam_dendrite=np.zeros(shape + (cam,), np.int64), cam_mask=np.zeros(shape + (cam,), np.int64), cam_flags={},
        sram_len=np.zeros(shape, np.int64), sram_tag=np.zeros(shape + (sram,), np.int64),
        sram_core=np.zeros(shape + (sram,), np.int64), sram_x=np.zeros(shape + (sram,), np.int64),
        sram_y=np.zeros(shape + (sram,), np.int64))
    for ci, chip in enumerate(cfg.chips):
        st.core_ids.append([k.core for k in chip.cores])
        st.params.append({k.core: {n: (c.coarse, c.fine) for n, c in k.parameters.items()} for k in chip.cores})
        st.chip_parameters.append({f: getattr(chip, f) for f in CHIP_PARAMETER_FIELDS})
        st.neuron_order.append({k.core: [n.neuron for n in k.neurons] for k in chip.cores})
        for core in chip.cores:
            k = core.core
            for nc in core.neurons:
                n = nc.neuron
                st.configured[ci, k, n] = True
                for li, latch in enumerate(LATCHES):
                    st.latches[ci, k, n, li] = getattr(nc, latch)
                L = len(nc.synapses)
                st.cam_len[ci, k, n] = L
                if L:
                    st.cam_tag[ci, k, n, :L] = [e[0] for e in nc.synapses]
                    st.cam_dendrite[ci, k, n, :L] = [CAM_DENDRITE_INDEX[e[1]] for e in nc.synapses]
                    st.cam_mask[ci, k, n, :L] = [mask_from_str(e[2]) for e in nc.synapses]
                if nc.synapse_flags:
                    st.cam_flags[(ci, k, n)] = dict(nc.synapse_flags)
                D = len(nc.destinations)
                st.sram_len[ci, k, n] = D
                for di, d in enumerate(nc.destinations):
                    st.sram_tag[ci, k, n, di] = d.tag
                    st.sram_core[ci, k, n, di] = core_mask_to_int(d.core)
                    st.sram_x[ci, k, n, di] = d.x_hop
                    st.sram_y[ci, k, n, di] = d.y_hop
    return st


def encode_state(st: BoardState) -> HardwareConfig:
    """The HardwareConfig holding exactly ``st`` (validated)."""
    chips = []
    for ci, chip_id in enumerate(st.chip_ids.tolist()):
        cores = []
        for k in st.core_ids[ci]:
            neurons = []
            for n in st.neuron_order[ci][k]:
                L = int(st.cam_len[ci, k, n])
                syn = [(int(t), CAM_DENDRITES[int(d)], mask_to_str(int(m)))
                       for t, d, m in zip(st.cam_tag[ci, k, n, :L], st.cam_dendrite[ci, k, n, :L], st.cam_mask[ci, k, n, :L])]
                D = int(st.sram_len[ci, k, n])
                dst = [Destination.model_construct(tag=int(st.sram_tag[ci, k, n, j]),
                                                   core=core_mask_from_int(st.sram_core[ci, k, n, j]),
                                                   x_hop=int(st.sram_x[ci, k, n, j]), y_hop=int(st.sram_y[ci, k, n, j]))
                       for j in range(D)]
                latches = {latch: bool(st.latches[ci, k, n, li]) for li, latch in enumerate(LATCHES)}
                neurons.append(NeuronConfig.model_construct(neuron=n, synapses=syn, destinations=dst,
                                                            synapse_flags=st.cam_flags.get((ci, k, n), {}), **latches))
            params = {name: Code.model_construct(coarse=c, fine=f) for name, (c, f) in st.params[ci][k].items()}
            cores.append(CoreConfig.model_construct(core=k, parameters=params, neurons=neurons))
        chips.append(ChipConfig.model_construct(chip=chip_id, position=tuple(int(v) for v in st.positions[ci]),
                                                **st.chip_parameters[ci], cores=cores))
    out = st.cfg.model_copy(update={"chips": chips})
    return HardwareConfig.model_validate_json(out.dumps())
