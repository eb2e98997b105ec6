"""TEST DOUBLE of samna (SynSense's Dynap-SE2 driver). Not samna: no hardware, never installed.

``install(monkeypatch)`` puts a fresh module tree in ``sys.modules`` as ``samna``,
``samna.device`` and ``samna.dynapse2``, with exactly these attribute paths:

* ``samna.device.get_unopened_devices() / get_all_devices() / open_device(info) / close_device(board)``;
  infos have ``.device_type_name`` ("DYNAP-SE2") and ``.serial_number``;
* board: ``reset_fpga() / configure_opal_kelly(bitfile) → bool / get_model() /
  input_interface_write_events(stream, events) / grid_bus_write_events(events) / read_events()``;
* model: ``get_configuration()`` (a COPY) ``/ apply_configuration(cfg) / clear_error_queue() /
  reset(ResetType, chip_mask)``;
* ``samna.dynapse2``: ``Dynapse2Configuration`` (``.chips[h].cores[c].parameters[name]
  .coarse_value/.fine_value``, ``.neurons[n]`` with the 14 latches, ``.synapses`` (64),
  ``.destinations`` (4); per chip the chip-level maps ``.chips[h].global_parameters``,
  ``.shared_parameters01`` / ``.shared_parameters23`` and ``.sadc_group_parameters01`` /
  ``.sadc_group_parameters23`` (lists of 3 maps), each ``[name].coarse_value/.fine_value``),
  ``.to_json() / .from_json(s)``; ``Dynapse2Synapse`` (tag, dendrite,
  weight, precise_delay, mismatched_delay, stp); ``Dynapse2Destination`` (tag, core, x_hop, y_hop);
  ``Dendrite.none/ampa/nmda/gaba/shunt``; ``NormalGridEvent`` (event, timestamp); ``ResetType``.

Where the facts come from (public code, read through the project's search tool):
* attribute names and types of Dynapse2Configuration/Chip/Core/Neuron/Synapse/Destination,
  NormalGridEvent (timestamp uint32 µs), the Dendrite values (none 0, ampa 1024, gaba 512, nmda 256,
  shunt 128), DeviceInfo fields and the board/model method names: Rockpool's samna alias
  ``rockpool/devices/dynapse/samna_alias/dynapse2.py`` (it mirrors samna's classes, incl. the checks
  "core mask requires 4 entries", hops within ±7, tag range);
* ``get_configuration`` returns a copy of the last applied configuration (samna's documentation,
  synsense-sys-int.gitlab.io/samna, "Device Models"); ``get_unopened_devices``/``open_device``/
  ``close_device`` (samna docs, "Device controller");
* marker events (tag 2047, hops −7/−7) come back with x_hop + 1; dummy events read the FPGA time
  (Rockpool ``hardware/interface/samna.py``; INI's Dynap-SE2 scripts send 3–32 copies);
  ``model.reset(ResetType.LogicReset, chip_mask)`` (Rockpool's board interface);
* the chip-level parameter maps and the names in each: public Dynap-SE2 lab scripts that set them at
  start-up through samna — haoran215/dynapse2 ``dynap-se2-scripts/test/test_sadc.py`` (``global_parameters``:
  R2R_BUFFER_AMPB, R2R_BUFFER_CCB; ``shared_parameters01``/``23``: LBWR_VB_P, NCCF_CAL_OFFBIAS_P, and
  SYAM_STDWAMPB, SYAM_STDWCCB in ``shared_parameters01``; ``sadc_group_parameters01[i]``/``23[i]``,
  i = 0..2: NCCF_PWLK_P, NCCF_HYS_P, NCCF_BIAS_P, NCCF_REF_L_V, NCCF_REF_H_V) and Maryada-27/dynapse_homeostasis
  ``experiments/helper.py`` (PG_BUF_N in ``shared_parameters01``/``23``). Those scripts write through
  ``map[name].coarse_value`` (references, as for a core's map) and never set these names in a core's
  map, so a core's map here has none of them. This double gives both shared maps the same names
  (samna's real maps may hold more names than these);
* pybind11 conversions: fixed-size arrays (64 synapses, 4 destinations, 4 mask bits) reject other
  lengths with TypeError, lists of sub-objects are returned as copies (so whole lists are assigned),
  nested chips/cores/neurons and parameter maps are references. Range checks (tag ≤ 2047, coarse ≤ 5,
  fine ≤ 255, hops ±7) raise ValueError, standing in for the real bindings' refusal of such values.
Not reproduced: samna's real JSON layout (``to_json`` here is this double's own), routing through
chips (a board replays ``FakeBoard.replay`` after each run's first input event instead), timing.
"""

from __future__ import annotations

import enum
import json
import sys
import types

PARAMETER_NAMES = (
    "SOIF_LEAK_N", "SOIF_GAIN_N", "SOIF_REFR_N", "SOIF_DC_P", "SOIF_SPKTHR_P", "SOIF_CC_N", "SOAD_PWTAU_N", "SOAD_GAIN_P",
    "SOAD_TAU_P", "SOAD_W_N", "SOAD_CASC_P", "SOCA_W_N", "SOCA_GAIN_P", "SOCA_TAU_P", "SOHO_VB_P", "SOHO_VH_P", "SOHO_VREF_P",
    "SOHO_VREF_L_P", "SOHO_VREF_H_P", "SOHO_VREF_M_P", "DEAM_ETAU_P", "DEAM_EGAIN_P", "DEAM_ITAU_P", "DEAM_IGAIN_P",
    "DENM_ETAU_P", "DENM_EGAIN_P", "DENM_ITAU_P", "DENM_IGAIN_P", "DENM_NMREV_N", "DEGA_ITAU_P", "DEGA_IGAIN_P",
    "DESC_ITAU_P", "DESC_IGAIN_P", "DEAM_VRES_P", "DEAM_HRES_P", "DEAM_NRES_P", "SYSA_VRES_N", "SYSA_VB_P", "SYPD_EXT_N",
    "SYPD_DLY0_P", "SYPD_DLY1_P", "SYPD_DLY2_P", "SYAM_W0_P", "SYAM_W1_P", "SYAM_W2_P", "SYAM_W3_P", "SYAW_STDSTR_N",
    "SYAM_STDW_N")
#: The names of the chip-level maps: ``global_parameters``; ``shared_parameters01`` and ``23``; each of the
#: 3 maps of ``sadc_group_parameters01`` and ``23``.
GLOBAL_PARAMETER_NAMES = ("R2R_BUFFER_AMPB", "R2R_BUFFER_CCB")
SHARED_PARAMETER_NAMES = ("LBWR_VB_P", "PG_BUF_N", "NCCF_CAL_OFFBIAS_P", "SYAM_STDWAMPB", "SYAM_STDWCCB")
SADC_GROUP_PARAMETER_NAMES = ("NCCF_PWLK_P", "NCCF_HYS_P", "NCCF_BIAS_P", "NCCF_REF_L_V", "NCCF_REF_H_V")
CORE_PAIRS = ("01", "23")
SADC_GROUPS = 3
LATCHES = ("latch_so_dc", "latch_so_adaptation", "latch_soif_kill", "latch_denm_nmda", "latch_coho_ca_mem", "latch_ho_enable",
           "latch_ho_so_de", "latch_deam_ampa", "latch_de_conductance", "latch_deam_alpha", "latch_denm_alpha", "latch_de_mux",
           "latch_soif_type", "latch_ho_active")
DEFAULT_CODE = (3, 80)          # this double's default code of every parameter (samna's real defaults differ per parameter)


class Dendrite(enum.Enum):
    none = 0
    ampa = 1024
    gaba = 512
    nmda = 256
    shunt = 128


class ResetType(enum.Enum):
    PowerCycle = 0
    ConfigReset = 1
    LogicReset = 2


# ---- conversions, as pybind11 does them ------------------------------------------------------
def _int(lo, hi):
    def check(v, what):
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"{what}: incompatible type {type(v).__name__} (expected int)")
        v = v.__index__()
        if not lo <= v <= hi:
            raise ValueError(f"{what}: {v} out of range {lo}..{hi}")
        return v
    return check


def _bool(v, what):
    if type(v).__name__ not in ("bool", "bool_"):
        raise TypeError(f"{what}: incompatible type {type(v).__name__} (expected bool)")
    return bool(v)


def _bools(n):
    def check(v, what):
        if not isinstance(v, (list, tuple)) or len(v) != n:
            raise TypeError(f"{what}: expected a list of {n} bool, got {type(v).__name__} of length {len(v) if hasattr(v, '__len__') else '?'}")
        return tuple(_bool(b, what) for b in v)
    return check


def _enum(cls):
    def check(v, what):
        if not isinstance(v, cls):
            raise TypeError(f"{what}: incompatible type {type(v).__name__} (expected {cls.__name__})")
        return v
    return check


def _list_property(k):
    return property(lambda self: list(self.__dict__[k]))        # pybind11 returns a fresh list


class _Record:
    """Fields with pybind-like checks on assignment; list-valued fields are read as fresh lists.

    Values live in the instance ``__dict__`` (list fields as tuples, shadowed by a read-only property)."""

    _fields: dict = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for k, (_, default) in cls._fields.items():
            if isinstance(default, tuple) and k not in cls.__dict__:
                setattr(cls, k, _list_property(k))

    def __init__(self):
        d = self.__dict__
        for k, (_, default) in self._fields.items():
            d[k] = default

    def __setattr__(self, k, v):
        if k not in self._fields:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{k}'")
        self.__dict__[k] = self._fields[k][0](v, f"{type(self).__name__}.{k}")

    def copy(self):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def raw(self) -> tuple:
        d = self.__dict__
        return tuple(d[k] for k in self._fields)

    @classmethod
    def from_raw(cls, raw):
        new = object.__new__(cls)
        new.__dict__.update(zip(cls._fields, raw))
        return new

    def state(self):
        return tuple(v.name if isinstance(v, enum.Enum) else v for v in self.raw())

    def __eq__(self, other):
        return type(other) is type(self) and self.state() == other.state()


class Dynapse2Destination(_Record):
    _fields = {"tag": (_int(0, 2047), 0), "core": (_bools(4), (False,) * 4), "x_hop": (_int(-7, 7), 0), "y_hop": (_int(-7, 7), 0)}


class Dynapse2Synapse(_Record):
    _fields = {"tag": (_int(0, 2047), 0), "dendrite": (_enum(Dendrite), Dendrite.none), "weight": (_bools(4), (False,) * 4),
               "precise_delay": (_bool, False), "mismatched_delay": (_bool, False), "stp": (_bool, False)}


def _objects(cls, n):
    def check(v, what):
        if not isinstance(v, (list, tuple)) or len(v) != n or not all(isinstance(x, cls) for x in v):
            raise TypeError(f"{what}: expected a list of {n} {cls.__name__}, got {type(v).__name__} of length "
                            f"{len(v) if hasattr(v, '__len__') else '?'}")
        return tuple(x.raw() for x in v)            # stored by value (pybind11 copies into a std::array)
    return check


class Dynapse2Neuron(_Record):
    _fields = {**{latch: (_bool, False) for latch in LATCHES},
               "synapses": (_objects(Dynapse2Synapse, 64), (Dynapse2Synapse().raw(),) * 64),
               "destinations": (_objects(Dynapse2Destination, 4), (Dynapse2Destination().raw(),) * 4)}
    # pybind11 returns copies: assign whole lists
    synapses = property(lambda self: [Dynapse2Synapse.from_raw(r) for r in self.__dict__["synapses"]])
    destinations = property(lambda self: [Dynapse2Destination.from_raw(r) for r in self.__dict__["destinations"]])

    def state(self):
        d = self.__dict__
        return (tuple(d[latch] for latch in LATCHES), tuple(Dynapse2Synapse.from_raw(r).state() for r in d["synapses"]),
                tuple(Dynapse2Destination.from_raw(r).state() for r in d["destinations"]))


class Dynapse2Parameter(_Record):
    _fields = {"coarse_value": (_int(0, 5), DEFAULT_CODE[0]), "fine_value": (_int(0, 255), DEFAULT_CODE[1])}


class ParameterMap(dict):
    """samna's parameter map: fixed names; ``m[name]`` is a reference (Rockpool's leaky config writes through it)."""

    def __missing__(self, key):
        raise KeyError(key)

    def __setitem__(self, key, value):
        if key not in self or not isinstance(value, Dynapse2Parameter):
            raise TypeError(f"parameters[{key!r}]: unknown parameter or not a Dynapse2Parameter")
        super().__setitem__(key, value)

    @classmethod
    def of(cls, names) -> "ParameterMap":
        """A map holding a default Dynapse2Parameter for each name."""
        m = cls()
        for name in names:
            dict.__setitem__(m, name, Dynapse2Parameter())
        return m

    def copy(self) -> "ParameterMap":
        m = ParameterMap()
        for k, p in self.items():
            dict.__setitem__(m, k, p.copy())
        return m

    def to_plain(self) -> dict:
        return {k: [p.coarse_value, p.fine_value] for k, p in self.items()}

    def load_plain(self, codes: dict) -> None:
        for k, (c, f) in codes.items():
            self[k].coarse_value, self[k].fine_value = c, f


class Dynapse2Core:
    def __init__(self):
        self.parameters = ParameterMap.of(PARAMETER_NAMES)
        self.neurons = [Dynapse2Neuron() for _ in range(256)]

    def copy(self):
        new = object.__new__(Dynapse2Core)
        new.parameters = self.parameters.copy()
        new.neurons = [n.copy() for n in self.neurons]
        return new


class Dynapse2Chip:
    def __init__(self):
        self.cores = [Dynapse2Core() for _ in range(4)]
        self.global_parameters = ParameterMap.of(GLOBAL_PARAMETER_NAMES)
        for pair in CORE_PAIRS:
            setattr(self, f"shared_parameters{pair}", ParameterMap.of(SHARED_PARAMETER_NAMES))
            setattr(self, f"sadc_group_parameters{pair}", [ParameterMap.of(SADC_GROUP_PARAMETER_NAMES) for _ in range(SADC_GROUPS)])

    def chip_maps(self):
        """(attribute label, map) of every chip-level map, e.g. ("sadc_group_parameters23[1]", map)."""
        yield "global_parameters", self.global_parameters
        for pair in CORE_PAIRS:
            yield f"shared_parameters{pair}", getattr(self, f"shared_parameters{pair}")
        for pair in CORE_PAIRS:
            for i, m in enumerate(getattr(self, f"sadc_group_parameters{pair}")):
                yield f"sadc_group_parameters{pair}[{i}]", m

    def copy(self):
        new = object.__new__(Dynapse2Chip)
        new.cores = [k.copy() for k in self.cores]
        new.global_parameters = self.global_parameters.copy()
        for pair in CORE_PAIRS:
            setattr(new, f"shared_parameters{pair}", getattr(self, f"shared_parameters{pair}").copy())
            setattr(new, f"sadc_group_parameters{pair}", [m.copy() for m in getattr(self, f"sadc_group_parameters{pair}")])
        return new


class Dynapse2Configuration:
    default_chips = 4           # chips of a new configuration (make_samna(n_chips=...) sets it per double)

    def __init__(self, n_chips: int | None = None):
        self.chips = [Dynapse2Chip() for _ in range(self.default_chips if n_chips is None else n_chips)]

    def copy(self):
        new = object.__new__(type(self))
        new.chips = [chip.copy() for chip in self.chips]
        return new

    def to_json(self) -> str:
        """This double's own JSON (not samna's layout)."""
        def neuron(n):
            d = n.__dict__
            return [[d[latch] for latch in LATCHES], [[t, dd.name, list(w), pd, md, stp] for t, dd, w, pd, md, stp in d["synapses"]],
                    [[t, list(c), x, y] for t, c, x, y in d["destinations"]]]
        return json.dumps({"chips": [{"chip_maps": {label: m.to_plain() for label, m in chip.chip_maps()},
                                      "cores": [{"parameters": core.parameters.to_plain(),
                                                 "neurons": [neuron(n) for n in core.neurons]} for core in chip.cores]}
                                     for chip in self.chips]})

    def from_json(self, text: str) -> None:
        d = json.loads(text)
        self.chips = [Dynapse2Chip() for _ in d["chips"]]
        for chip, cd in zip(self.chips, d["chips"]):
            for label, m in chip.chip_maps():
                m.load_plain(cd["chip_maps"][label])
            for core, kd in zip(chip.cores, cd["cores"]):
                core.parameters.load_plain(kd["parameters"])
                for n, (lat, syn, dst) in zip(core.neurons, kd["neurons"]):
                    nd = n.__dict__
                    nd.update(zip(LATCHES, lat))
                    nd["synapses"] = tuple((t, Dendrite[dd], tuple(w), pd, md, stp) for t, dd, w, pd, md, stp in syn)
                    nd["destinations"] = tuple((t, tuple(c), x, y) for t, c, x, y in dst)


def _synapse(tag, dendrite, weight, pd, md, stp):
    s = Dynapse2Synapse()
    s.tag, s.dendrite, s.weight, s.precise_delay, s.mismatched_delay, s.stp = tag, Dendrite[dendrite], list(weight), pd, md, stp
    return s


def destination(tag, core, x_hop, y_hop):
    d = Dynapse2Destination()
    d.tag, d.core, d.x_hop, d.y_hop = tag, list(core), x_hop, y_hop
    return d


class NormalGridEvent(_Record):
    _fields = {"event": (lambda v, w: _enum_like(v, w), None), "timestamp": (_int(0, (1 << 32) - 1), 0)}

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "event", Dynapse2Destination())


def _enum_like(v, what):
    if not isinstance(v, Dynapse2Destination):
        raise TypeError(f"{what}: incompatible type {type(v).__name__} (expected Dynapse2Destination)")
    return v.copy()


from .board import DeviceInfo, FakeBoard, FakeModel  # noqa: E402  (the board side uses the classes above)


def make_samna(boards=(), n_chips: int = 4):
    """A fresh ``samna`` module tree whose device controller knows ``boards`` (FakeBoard objects);
    ``Dynapse2Configuration()`` has ``n_chips`` chips."""
    samna = types.ModuleType("samna")
    samna.__doc__ = "fake_samna: a test double of samna (tests/fake_samna), NOT samna"
    se2 = types.ModuleType("samna.dynapse2")
    config_cls = type("Dynapse2Configuration", (Dynapse2Configuration,), {"default_chips": n_chips})
    for cls in (Dendrite, ResetType, Dynapse2Destination, Dynapse2Synapse, Dynapse2Neuron, Dynapse2Parameter,
                Dynapse2Core, Dynapse2Chip, config_cls, NormalGridEvent):
        setattr(se2, cls.__name__, cls)
    dev = types.ModuleType("samna.device")
    registry = list(boards)
    dev.boards = registry

    def get_all_devices():
        return [b.info for b in registry]

    def get_unopened_devices():
        return [b.info for b in registry if not b.opened]

    def open_device(info):
        for b in registry:
            if b.info is info or b.info.serial_number == getattr(info, "serial_number", info):
                if b.opened:
                    raise RuntimeError(f"device {b.info.serial_number} is already open")
                b.opened = True
                return b
        raise RuntimeError(f"no such device: {info}")

    def close_device(board):
        board.opened = False

    dev.get_all_devices, dev.get_unopened_devices, dev.open_device, dev.close_device = (
        get_all_devices, get_unopened_devices, open_device, close_device)
    samna.dynapse2, samna.device = se2, dev
    return samna


def install(monkeypatch, boards=(), n_chips: int = 4):
    """Insert a fresh double as ``samna`` (and its submodules) in ``sys.modules`` for one test."""
    samna = make_samna(boards, n_chips)
    monkeypatch.setitem(sys.modules, "samna", samna)
    monkeypatch.setitem(sys.modules, "samna.dynapse2", samna.dynapse2)
    monkeypatch.setitem(sys.modules, "samna.device", samna.device)
    return samna


__all__ = ["make_samna", "install", "FakeBoard", "FakeModel", "DeviceInfo", "destination"]
