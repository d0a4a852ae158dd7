"""Subject-wise train/validation/test splits of every source: official protocols where they exist.

Validation is always carved out of the official training subjects (a fixed, documented set), so
the official test split stays untouched.
"""

from __future__ import annotations

# NTU RGB+D cross-subject protocol: training subject ids (Shahroudy et al. 2016; Liu et al. 2019).
NTU60_XSUB_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
NTU120_XSUB_TRAIN = NTU60_XSUB_TRAIN | frozenset({
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
})
#: Training subjects held out as validation (the last two official training ids of each set).
NTU_XSUB_VALIDATION = frozenset({35, 38, 100, 103})
#: NTU-60 cross-view: cameras 2 and 3 train, camera 1 test.
NTU60_XVIEW_TRAIN_CAMERAS = frozenset({2, 3})

NTU_PROTOCOLS = ("xsub", "xview", "xset")


def ntu_split(subject: int, camera: int, setup: int, protocol: str = "xsub") -> str:
    """Split of one NTU clip under ``protocol``.

    xsub: cross-subject (NTU-120 training subjects, a superset of NTU-60's).
    xview: NTU-60 cross-view (camera 1 is test); validation = setup 17 of the training cameras.
    xset: NTU-120 cross-setup (even setup ids train, odd test); validation = setup 32.
    """
    if protocol == "xsub":
        if subject not in NTU120_XSUB_TRAIN:
            return "test"
        return "validation" if subject in NTU_XSUB_VALIDATION else "train"
    if protocol == "xview":
        if camera not in NTU60_XVIEW_TRAIN_CAMERAS:
            return "test"
        return "validation" if setup == 17 else "train"
    if protocol == "xset":
        if setup % 2 == 1:
            return "test"
        return "validation" if setup == 32 else "train"
    raise ValueError(f"unknown NTU protocol {protocol!r}; choose one of {NTU_PROTOCOLS}")


def utd_mhad_split(subject: int) -> str:
    """UTD-MHAD's protocol: odd subjects train, even subjects test; subject 7 is validation."""
    if subject % 2 == 0:
        return "test"
    return "validation" if subject == 7 else "train"


def smartfallmm_split(subject: int) -> str:
    """SmartFallMM (no official split): subject id mod 8 -> 0-5 train, 6 validation, 7 test.

    Every block of eight consecutive ids holds six training, one validation and one test subject
    (among S29-S36: S30 validation, S31 test).
    """
    r = subject % 8
    return "train" if r < 6 else ("validation" if r == 6 else "test")


def weda_fall_split(user: int) -> str:
    """WEDA-FALL (no official split): users mod 5 -> 0 test, 1 validation, else train.

    Young users U01-U14 and elders U21-U31 are both spread over all three splits.
    """
    r = user % 5
    return "test" if r == 0 else ("validation" if r == 1 else "train")


def up_fall_split(subject: int) -> str:
    """UP-Fall (17 subjects, no official split): subjects 15-17 test, 13-14 validation."""
    if subject >= 15:
        return "test"
    return "validation" if subject >= 13 else "train"


#: Kinetics CSV ``split`` values -> our splits (the official train / validate / test sets).
KINETICS_SPLITS = {"train": "train", "val": "validation", "validate": "validation",
                   "validation": "validation", "test": "test"}


def kinetics_split(value: str) -> str:
    """The official Kinetics split of a CSV row (``train``, ``val``/``validate``, ``test``)."""
    try:
        return KINETICS_SPLITS[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown Kinetics split {value!r}; expected one of "
                         f"{sorted(KINETICS_SPLITS)}") from None


def ucf_crime_split(in_test_annotations: bool, video_number: int) -> str:
    """UCF-Crime's official split: the 290 temporally annotated videos are test, the rest train;
    validation = training videos whose number is a multiple of 10 (e.g. Fighting010)."""
    if in_test_annotations:
        return "test"
    return "validation" if video_number % 10 == 0 else "train"


#: Le2i has no subjects ids and no official split: whole scenes are held out.
LE2I_TEST_SCENES = frozenset({"home_02"})
LE2I_VALIDATION_SCENES = frozenset({"coffee_room_02"})


def le2i_split(scene: str) -> str:
    """Le2i split by scene (the actors differ between scenes): Home_02 test, Coffee_room_02
    validation, the others (Coffee_room_01, Home_01, ...) train."""
    key = scene.strip().lower()
    if key in LE2I_TEST_SCENES:
        return "test"
    return "validation" if key in LE2I_VALIDATION_SCENES else "train"
