"""Parsers of the real data sets' folder layouts into validated, name-sorted lists of `Sample`."""

from exposure_lab.data.layouts.afifi import AFIFI_EXPERTS, afifi_expert_folder, afifi_samples, afifi_splits
from exposure_lab.data.layouts.endo4ie import endo4ie_samples, endo4ie_splits
from exposure_lab.data.layouts.folders import paired_folder_samples, unpaired_samples
from exposure_lab.data.layouts.iea40k import iea40k_ev, iea40k_samples, load_iea40k_label, read_iea40k_csv
from exposure_lab.data.layouts.lol import LOL_VARIANTS, lol_samples

__all__ = [
    "AFIFI_EXPERTS",
    "LOL_VARIANTS",
    "afifi_expert_folder",
    "afifi_samples",
    "afifi_splits",
    "endo4ie_samples",
    "endo4ie_splits",
    "iea40k_ev",
    "iea40k_samples",
    "load_iea40k_label",
    "lol_samples",
    "paired_folder_samples",
    "read_iea40k_csv",
    "unpaired_samples",
]
