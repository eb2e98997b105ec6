"""Design rules that depend on where the mapper puts each neuron (checked by the mapper, through
:func:`neurodeploy.rules.registry.fail`, the moment the placement makes them decidable).

The builders here word the messages: the neuron in model terms, the chip/core, what to change.
"""

from __future__ import annotations

from ..errors import MappingError
from .registry import declare, fail, tagged

TAGS = declare("tags", "placement", "every source reaching a core gets a tag no other source reaching it uses "
               "(2048 tags per core, fewer with a CAM profile)")
FAN_OUT = declare("fan-out", "placement", "a neuron needs at most 4 SRAM entries: one per chip its targets are "
                  "on, + the host route of an output neuron")
CAM_DEFECTS = declare("cam-defects", "placement", "with a CAM defect profile, each neuron's primary CAM entries fit "
                      "its working slots")
CAM_PROFILE = declare("cam-profile", "placement", "CAM defect profiles are readable and given only for chips in use")


def too_many_sources(chip: int, core: int, n_sources: int, n_tags: int):
    fail(TAGS, f"chip {chip} core {core} is reached by {n_sources} distinct sources but a core has "
               f"{n_tags} tags; spread the network over more cores/chips (--chips) or reduce the number of distinct "
               f"sources projecting onto the neurons of that core")


def no_free_tag(source: str, chip: int, cores: list[int], n_tags: int):
    fail(TAGS, f"no free tag for source {source} on chip {chip} cores {cores}: "
               f"the {n_tags} tags (fewer with a CAM profile) are used up by other sources on those cores; "
               f"spread the network over more cores/chips")


def fan_out(neuron: str, n_destinations: int, chips: list[int], output: bool, sram: int):
    fail(FAN_OUT, f"neuron {neuron} needs {n_destinations} SRAM destinations (targets on chips {chips}"
                  f"{' + host monitor' if output else ''}) but a neuron has {sram}; place its targets on fewer chips")


def cam_defects(neuron: str, chip: int, core: int, index: int, needed: int, source: str, usable: int):
    fail(CAM_DEFECTS, f"neuron {neuron} on chip {chip} core {core} neuron {index} needs {needed} working CAM slots but "
                      f"the CAM profile {source} marks only {usable} usable for its tags; reduce its fan-in "
                      f"(--prune) or raise the defect tolerance")


def cam_profile(message: str) -> MappingError:
    """The error to raise for an unusable CAM profile (``raise cam_profile(...) from None``)."""
    return MappingError(tagged(CAM_PROFILE, message), rule=CAM_PROFILE)
