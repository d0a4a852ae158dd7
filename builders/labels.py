"""Safety taxonomy and every source's reviewed label table: the one place for labels.

Each table maps a source's own label to ``Label(activity, hazard)``. ``hazard`` is "none" for safe
activities, else one of ``UNSAFE_HAZARDS``. A label missing from its table is reported by the build
as unmapped, never guessed.
"""

from __future__ import annotations

from typing import NamedTuple

UNSAFE_HAZARDS: tuple[str, ...] = (
    "falling", "losing_balance", "fighting", "shoving", "dragging",
    "jumping_from_height", "fainting",
)
#: Hazards that count as a fall where a task asks "fall or not" (benchmarks/tstr.py,
#: benchmarks/fidelity_report.py; evaluation/tasks.py keeps the same rule). ``losing_balance``
#: is unsafe but NOT a fall: WEDA-FALL's D07 (stumble while walking) is a not-fall there.
FALL_HAZARDS: frozenset[str] = frozenset({"falling", "fainting"})
#: ClassLabel names of the ``hazard`` column, in index order.
HAZARD_NAMES: tuple[str, ...] = ("none",) + UNSAFE_HAZARDS


class Label(NamedTuple):
    activity: str
    hazard: str = "none"

    @property
    def safe(self) -> bool:
        return self.hazard == "none"


def _safe(*activities: str) -> list[Label]:
    return [Label(a) for a in activities]


# NTU RGB+D 120 (A001-A060 are NTU-60). Mutual actions are fighting/shoving where they are
# aggression between the two people; everything else is a safe daily, medical or social action.
_NTU = _safe(
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup",
    "throw", "sitting down", "standing up", "clapping", "reading", "writing", "tear up paper",
    "wear jacket", "take off jacket", "wear a shoe", "take off a shoe", "wear on glasses",
    "take off glasses", "put on a hat/cap", "take off a hat/cap", "cheer up", "hand waving",
    "kicking something", "reach into pocket", "hopping", "jump up", "make a phone call",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow",
    "shake head", "wipe face", "salute", "put the palms together", "cross hands in front",
    "sneeze/cough",
) + [
    Label("staggering", "losing_balance"),                      # A042
    Label("falling", "falling"),                                # A043
] + _safe(
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting", "use a fan/feeling warm",
) + [
    Label("punching/slapping other person", "fighting"),        # A050
    Label("kicking other person", "fighting"),                  # A051
    Label("pushing other person", "shoving"),                   # A052
] + _safe(
    "pat on back of other person", "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    # NTU-120 additions, A061-A105
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush", "flick hair", "thumb up",
    "thumb down", "make ok sign", "make victory sign", "staple book", "counting money",
    "cutting nails", "cutting paper", "snapping fingers", "open bottle", "sniff",
    "squat down", "toss a coin", "fold paper", "ball up paper", "play magic cube",
    "apply cream on face", "apply cream on hand back", "put on bag", "take off bag",
    "put something into a bag", "take something out of a bag", "open a box",
    "move heavy objects", "shake fist", "throw up cap/hat", "hands up", "cross arms",
    "arm circles", "arm swings", "running on the spot", "butt kicks", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose",
) + [
    Label("hit other person with something", "fighting"),      # A106
    Label("wield knife towards other person", "fighting"),     # A107
    Label("knock over other person", "shoving"),               # A108: hit with the body
    Label("grab other person's stuff", "fighting"),            # A109
    Label("shoot at other person with a gun", "fighting"),     # A110
    Label("step on foot", "fighting"),                         # A111
] + _safe(
    "high-five", "cheers and drink", "carry something with other person",
    "take a photo of other person", "follow other person", "whisper in other person's ear",
    "exchange things with other person", "support somebody with hand",
    "finger-guessing game",
)
NTU_LABELS: dict[str, Label] = {f"A{i:03d}": lab for i, lab in enumerate(_NTU, start=1)}
assert len(NTU_LABELS) == 120

# UTD-MHAD: 27 single-person actions; none is a hazard (boxing and pushing are performed at
# the air, with no partner).
_UTD = _safe(
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling (right hand)",
    "front boxing", "baseball swing from right", "tennis right hand forehand swing",
    "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
    "right hand catch an object", "right hand pick up and throw", "jogging in place",
    "walking in place", "sit to stand", "stand to sit", "forward lunge (left foot forward)",
    "squat (two arms stretch out)",
)
UTD_MHAD_LABELS: dict[str, Label] = {f"a{i}": lab for i, lab in enumerate(_UTD, start=1)}

SMARTFALLMM_LABELS: dict[str, Label] = {
    f"A{i:02d}": lab for i, lab in enumerate(_safe(
        "drinking water", "pick up object", "put on and take off jacket", "stepping up",
        "sweeping floor", "washing hand", "waving hand", "walking (TUG test)", "sit/stand",
    ) + [
        Label("back fall", "falling"), Label("front fall", "falling"),
        Label("left fall", "falling"), Label("right fall", "falling"),
        Label("rotate fall", "falling"),
    ], start=1)
}

WEDA_FALL_LABELS: dict[str, Label] = {
    "F01": Label("fall forward while walking (slip)", "falling"),
    "F02": Label("lateral fall while walking (slip)", "falling"),
    "F03": Label("fall backward while walking (slip)", "falling"),
    "F04": Label("fall forward while walking (trip)", "falling"),
    "F05": Label("fall backward when trying to sit down", "falling"),
    "F06": Label("fall forward while sitting (fainting)", "fainting"),
    "F07": Label("fall backward while sitting (fainting)", "fainting"),
    "F08": Label("lateral fall while sitting (fainting)", "fainting"),
    "D01": Label("walking"), "D02": Label("jogging"),
    "D03": Label("walking up and downstairs"), "D04": Label("sitting down and getting up"),
    "D05": Label("collapse into a chair"), "D06": Label("crouching to tie shoes"),
    # A stumble is unsafe (losing balance) but not a fall: fall-or-not tasks count it as not a
    # fall (FALL_HAZARDS).
    "D07": Label("stumble while walking", "losing_balance"),
    "D08": Label("gentle jump to reach a high object"), "D09": Label("hit table with hand"),
    "D10": Label("clapping hands"), "D11": Label("opening and closing door"),
}

UP_FALL_LABELS: dict[str, Label] = {
    "1": Label("falling forward using hands", "falling"),
    "2": Label("falling forward using knees", "falling"),
    "3": Label("falling backwards", "falling"),
    "4": Label("falling sideward", "falling"),
    "5": Label("falling sitting in empty chair", "falling"),
    "6": Label("walking"), "7": Label("standing"), "8": Label("sitting"),
    "9": Label("picking up an object"), "10": Label("jumping"), "11": Label("laying"),
}

#: Label table of each source (real-IMU readers share the table of their skeleton twin).
SOURCE_LABELS: dict[str, dict[str, Label]] = {
    "ntu": NTU_LABELS,
    "utd-mhad": UTD_MHAD_LABELS,
    "utd-mhad-imu": UTD_MHAD_LABELS,
    "smartfallmm": SMARTFALLMM_LABELS,
    "smartfallmm-imu": SMARTFALLMM_LABELS,
    "weda-fall": WEDA_FALL_LABELS,
    "up-fall": UP_FALL_LABELS,
}


def lookup(source: str, source_label: str) -> Label | None:
    """The reviewed label for ``source_label`` of ``source``, or None when it is unmapped."""
    return SOURCE_LABELS.get(source, {}).get(source_label)
