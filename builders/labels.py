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


# ---- video sources -----------------------------------------------------------------------

#: Kinetics-700(-2020) classes in the official order (sorted), from the dataset's class list.
KINETICS700_CLASSES: tuple[str, ...] = tuple("".join((
    'abseiling|acting in play|adjusting glasses|air drumming|alligator wrestling|'
    'answering questions|applauding|applying cream|archaeological excavation|archery|arguing|'
    'arm wrestling|arranging flowers|arresting|assembling bicycle|assembling computer|'
    'attending conference|auctioning|baby waking up|backflip (human)|baking cookies|bandaging|'
    'barbequing|bartending|base jumping|bathing dog|battle rope training|beatboxing|bee keeping|'
    'being excited|being in zero gravity|belly dancing|bench pressing|bending back|bending metal|'
    'biking through snow|blasting sand|blending fruit|blowdrying hair|blowing bubble gum|'
    'blowing glass|blowing leaves|blowing nose|blowing out candles|bobsledding|bodysurfing|'
    'bookbinding|bottling|bouncing ball (not juggling)|bouncing on bouncy castle|'
    'bouncing on trampoline|bowling|braiding hair|breading or breadcrumbing|breakdancing|'
    'breaking boards|breaking glass|breathing fire|brush painting|brushing floor|brushing hair|'
    'brushing teeth|building cabinet|building lego|building sandcastle|building shed|bulldozing|'
    'bungee jumping|burping|busking|calculating|calligraphy|canoeing or kayaking|capoeira|'
    'capsizing|card stacking|card throwing|carrying baby|carrying weight|cartwheeling|'
    'carving ice|carving marble|carving pumpkin|carving wood with a knife|casting fishing line|'
    'catching fish|catching or throwing baseball|catching or throwing frisbee|'
    'catching or throwing softball|celebrating|changing gear in car|changing oil|'
    'changing wheel (not on bike)|chasing|checking tires|checking watch|cheerleading|chewing gum|'
    'chiseling stone|chiseling wood|chopping meat|chopping wood|clam digging|clapping|'
    'clay pottery making|clean and jerk|cleaning gutters|cleaning pool|cleaning shoes|'
    'cleaning toilet|cleaning windows|climbing a rope|climbing ladder|climbing tree|closing door|'
    'coloring in|combing hair|contact juggling|contorting|cooking chicken|cooking egg|'
    'cooking on campfire|cooking sausages (not on barbeque)|cooking scallops|cosplaying|coughing|'
    'counting money|country line dancing|cracking back|cracking knuckles|cracking neck|'
    'crawling baby|crocheting|crossing eyes|crossing river|crying|cumbia|curling (sport)|'
    'curling eyelashes|curling hair|cutting apple|cutting cake|cutting nails|cutting orange|'
    'cutting pineapple|cutting watermelon|dancing ballet|dancing charleston|'
    'dancing gangnam style|dancing macarena|deadlifting|dealing cards|'
    'decorating the christmas tree|decoupage|delivering mail|digging|dining|directing traffic|'
    'disc golfing|diving cliff|docking boat|dodgeball|doing aerobics|doing jigsaw puzzle|'
    'doing laundry|doing nails|doing sudoku|drawing|dribbling basketball|drinking shots|'
    'driving car|driving tractor|drooling|drop kicking|drumming fingers|dumpster diving|'
    'dunking basketball|dyeing eyebrows|dyeing hair|eating burger|eating cake|eating carrots|'
    'eating chips|eating doughnuts|eating hotdog|eating ice cream|eating nachos|eating spaghetti|'
    'eating watermelon|egg hunting|embroidering|entering church|exercising arm|'
    'exercising with an exercise ball|extinguishing fire|faceplanting|falling off bike|'
    'falling off chair|feeding birds|feeding fish|feeding goats|fencing (sport)|fidgeting|'
    'filling cake|filling eyebrows|finger snapping|fixing bicycle|fixing hair|flint knapping|'
    'flipping bottle|flipping pancake|fly tying|flying kite|folding clothes|folding napkins|'
    'folding paper|front raises|frying vegetables|gargling|geocaching|getting a haircut|'
    'getting a piercing|getting a tattoo|giving or receiving award|gold panning|golf chipping|'
    'golf driving|golf putting|gospel singing in church|grinding meat|grooming cat|grooming dog|'
    'grooming horse|gymnastics tumbling|hammer throw|hand washing clothes|head stand|headbanging|'
    'headbutting|helmet diving|herding cattle|high fiving|high jump|high kick|'
    'historical reenactment|hitting baseball|hockey stop|holding snake|home roasting coffee|'
    'hopscotch|hoverboarding|huddling|hugging (not baby)|hugging baby|hula hooping|hurdling|'
    'hurling (sport)|ice climbing|ice fishing|ice skating|ice swimming|inflating balloons|'
    'installing carpet|ironing|ironing hair|javelin throw|jaywalking|jetskiing|jogging|'
    'juggling balls|juggling fire|juggling soccer ball|jumping bicycle|jumping into pool|'
    'jumping jacks|jumping sofa|jumpstyle dancing|karaoke|kicking field goal|kicking soccer ball|'
    'kissing|kitesurfing|knitting|krumping|land sailing|laughing|lawn mower racing|laying bricks|'
    'laying concrete|laying decking|laying stone|laying tiles|leatherworking|'
    'letting go of balloon|licking|lifting hat|lighting candle|lighting fire|'
    'listening with headphones|lock picking|long jump|longboarding|looking at phone|'
    'looking in mirror|luge|lunge|making a cake|making a sandwich|making balloon shapes|'
    'making bubbles|making cheese|making horseshoes|making jewelry|making latte art|'
    'making paper aeroplanes|making pizza|making slime|making snowman|making sushi|making tea|'
    'making the bed|marching|marriage proposal|massaging back|massaging feet|massaging legs|'
    "massaging neck|massaging person's head|metal detecting|milking cow|milking goat|"
    'mixing colours|moon walking|mopping floor|mosh pit dancing|motorcycling|'
    'mountain climber (exercise)|moving baby|moving child|moving furniture|mowing lawn|'
    'mushroom foraging|needle felting|news anchoring|opening bottle (not wine)|opening coconuts|'
    'opening door|opening present|opening refrigerator|opening wine bottle|packing|paragliding|'
    'parasailing|parkour|passing American football (in game)|'
    'passing American football (not in game)|passing soccer ball|peeling apples|peeling banana|'
    'peeling potatoes|person collecting garbage|petting animal (not cat)|petting cat|'
    'petting horse|photobombing|photocopying|picking apples|picking blueberries|pillow fight|'
    'pinching|pirouetting|planing wood|planting trees|plastering|playing accordion|'
    'playing american football|playing badminton|playing bagpipes|playing basketball|'
    'playing bass guitar|playing beer pong|playing billiards|playing blackjack|playing cards|'
    'playing cello|playing checkers|playing chess|playing clarinet|playing controller|'
    'playing cricket|playing cymbals|playing darts|playing didgeridoo|playing dominoes|'
    'playing drums|playing field hockey|playing flute|playing gong|playing guitar|'
    'playing hand clapping games|playing harmonica|playing harp|playing ice hockey|'
    'playing keyboard|playing kickball|playing laser tag|playing lute|playing mahjong|'
    'playing maracas|playing marbles|playing monopoly|playing netball|playing nose flute|'
    'playing oboe|playing ocarina|playing organ|playing paintball|playing pan pipes|'
    'playing piano|playing piccolo|playing pinball|playing ping pong|playing poker|playing polo|'
    'playing recorder|playing road hockey|playing rounders|playing rubiks cube|playing saxophone|'
    'playing scrabble|playing shuffleboard|playing slot machine|playing squash or racquetball|'
    'playing tennis|playing trombone|playing trumpet|playing ukulele|playing violin|'
    'playing volleyball|playing with trains|playing xylophone|poaching eggs|poking bellybutton|'
    'pole vault|polishing furniture|polishing metal|popping balloons|pouring beer|pouring milk|'
    'pouring wine|preparing salad|presenting weather forecast|pretending to be a statue|pull ups|'
    'pulling espresso shot|pulling rope (game)|pumping fist|pumping gas|punching bag|'
    'punching person (boxing)|push up|pushing car|pushing cart|pushing wheelbarrow|'
    'pushing wheelchair|putting in contact lenses|putting on eyeliner|putting on foundation|'
    'putting on lipstick|putting on mascara|putting on sari|putting on shoes|'
    'putting wallpaper on wall|raising eyebrows|reading book|reading newspaper|recording music|'
    'repairing puncture|riding a bike|riding camel|riding elephant|riding mechanical bull|'
    'riding mule|riding or walking with horse|riding scooter|riding snow blower|riding unicycle|'
    'ripping paper|roasting marshmallows|roasting pig|robot dancing|rock climbing|'
    'rock scissors paper|roller skating|rolling eyes|rolling pastry|rope pushdown|'
    'running on treadmill|sailing|salsa dancing|saluting|sanding floor|sanding wood|'
    'sausage making|sawing wood|scrambling eggs|scrapbooking|scrubbing face|scuba diving|'
    'seasoning food|separating eggs|setting table|sewing|shaking hands|shaking head|'
    'shaping bread dough|sharpening knives|sharpening pencil|shaving head|shaving legs|'
    'shearing sheep|shining flashlight|shining shoes|shoot dance|shooting basketball|'
    'shooting goal (soccer)|shooting off fireworks|shopping|shot put|shouting|shoveling snow|'
    'shredding paper|shucking oysters|shuffling cards|shuffling feet|side kick|sieving|'
    'sign language interpreting|silent disco|singing|sipping cup|situp|skateboarding|ski ballet|'
    'ski jumping|skiing crosscountry|skiing mono|skiing slalom|skipping rope|skipping stone|'
    'skydiving|slacklining|slapping|sled dog racing|sleeping|slicing onion|smashing|'
    'smelling feet|smoking|smoking hookah|smoking pipe|snatch weight lifting|sneezing|snorkeling|'
    'snowboarding|snowkiting|snowmobiling|somersaulting|spelunking|spinning plates|spinning poi|'
    'splashing water|spray painting|spraying|springboard diving|square dancing|squat|'
    'squeezing orange|stacking cups|stacking dice|standing on hands|staring|steer roping|'
    'steering car|sticking tongue out|stomping grapes|stretching arm|stretching leg|'
    'sucking lolly|surfing crowd|surfing water|surveying|sweeping floor|swimming backstroke|'
    'swimming breast stroke|swimming butterfly stroke|swimming front crawl|'
    'swimming with dolphins|swimming with sharks|swing dancing|swinging baseball bat|'
    'swinging on something|sword fighting|sword swallowing|tackling|tagging graffiti|tai chi|'
    'taking photo|talking on cell phone|tango dancing|tap dancing|tapping guitar|tapping pen|'
    'tasting beer|tasting food|tasting wine|testifying|texting|threading needle|throwing axe|'
    'throwing ball (not baseball or American football)|throwing discus|throwing knife|'
    'throwing snowballs|throwing tantrum|throwing water balloon|tickling|tie dying|'
    'tightrope walking|tiptoeing|tobogganing|tossing coin|tossing salad|training dog|trapezing|'
    'treating wood|trimming or shaving beard|trimming shrubs|trimming trees|triple jump|'
    'twiddling fingers|tying bow tie|tying knot (not on a tie)|tying necktie|tying shoe laces|'
    'unboxing|uncorking champagne|unloading truck|using a microscope|using a paint roller|'
    'using a power drill|using a sledge hammer|using a wrench|using atm|using bagging machine|'
    'using circular saw|using inhaler|using megaphone|using puppets|'
    'using remote controller (not gaming)|using segway|vacuuming car|vacuuming floor|'
    'visiting the zoo|wading through mud|wading through water|waiting in line|waking up|'
    'walking on stilts|walking the dog|walking through snow|walking with crutches|washing dishes|'
    'washing feet|washing hair|washing hands|watching tv|water skiing|water sliding|'
    'watering plants|waving hand|waxing armpits|waxing back|waxing chest|waxing eyebrows|'
    'waxing legs|weaving basket|weaving fabric|welding|whistling|windsurfing|winking|'
    'wood burning (art)|wrapping present|wrestling|writing|yarn spinning|yawning|yoga|zumba'
)).split("|"))
assert len(KINETICS700_CLASSES) == 700 and len(set(KINETICS700_CLASSES)) == 700

#: Kinetics-700 classes that are hazards, reviewed class by class against the class names and
#: the clips' content (Kay et al. 2017; Carreira et al. 2019). The rule: a class is a hazard when
#: the person's own body does what the hazard names (falls, strikes or grapples another person,
#: knocks a person over, drops from a height with a free fall), sport or not, since the wrist sees
#: the same motion; controlled practice without an opponent is safe.
KINETICS_HAZARDS: dict[str, str] = {
    # falling: the clip is the fall itself
    "faceplanting": "falling",
    "falling off bike": "falling",
    "falling off chair": "falling",
    # fighting: strikes or grappling aimed at another person
    "punching person (boxing)": "fighting",
    "wrestling": "fighting",
    "slapping": "fighting",
    "headbutting": "fighting",
    "sword fighting": "fighting",   # decided: blows aimed at a partner (stage combat, HEMA, LARP)
    "fencing (sport)": "fighting",  # same rule as sword fighting: hits on an opponent
    # shoving: a person knocked over / pushed by the body. Kinetics has no "pushing person"
    # class: "pushing car/cart/wheelbarrow/wheelchair" push objects and are safe (decided).
    "tackling": "shoving",          # a runner taken to the ground (as NTU A108 knock over)
    "mosh pit dancing": "shoving",  # dancers slam and push into each other
    # jumping_from_height: a drop with free fall from a raised place (no dragging class exists)
    "bungee jumping": "jumping_from_height",
    "diving cliff": "jumping_from_height",
    "base jumping": "jumping_from_height",
    "skydiving": "jumping_from_height",
    "ski jumping": "jumping_from_height",
    "parkour": "jumping_from_height",  # decided: clips are dominated by drops off walls/roofs
}

#: Kinetics-700 classes left out of the dataset, with the reason (reported as skips).
KINETICS_EXCLUDED: dict[str, str] = {
    "being in zero gravity": "no gravity: the simulator's specific force assumes 1 g",
    "arresting": "mixes calm handcuffing with take-downs; the wearer may be officer or arrestee",
    "alligator wrestling": "grappling an animal, not a person: neither fighting nor daily activity",
    "historical reenactment": "mixes marching, staged battles and crafts",
    "throwing tantrum": "children dropping and flailing on the floor: no class of the taxonomy",
    "surfing crowd": "the body is carried by the crowd: its motion is not the person's own",
    "capsizing": "falls into water from a boat: no impact, the boat dominates the clip",
    "jumping into pool": "mixes low jumps from the edge with jumps from roofs and balconies",
}
# Decided safe (kept as their own activity): capoeira (a game whose kicks sweep past the partner
# without landing), pillow fight (play, no injury), arm wrestling, punching bag, side/high/drop
# kicking (no opponent), springboard diving and trapezing (sport into water/net), slacklining and
# tightrope walking (balancing, not losing it), riding mechanical bull, chasing, pulling rope (game),
# somersaulting, backflip (human), cartwheeling, gymnastics tumbling, paragliding, parasailing.
KINETICS_LABELS: dict[str, Label] = {
    c: Label(c, KINETICS_HAZARDS.get(c, "none"))
    for c in KINETICS700_CLASSES if c not in KINETICS_EXCLUDED
}
assert set(KINETICS_HAZARDS) <= set(KINETICS_LABELS) and set(KINETICS_EXCLUDED) <= set(KINETICS700_CLASSES)

#: UCF-Crime (Sultani et al. 2018): 13 anomaly classes and the normal videos. An anomaly class
#: labels the annotated anomaly window (test videos) or, as a weak label, every window of a
#: training video. Reviewed against the class definitions of the paper:
UCF_CRIME_LABELS: dict[str, Label] = {
    "Fighting": Label("fighting", "fighting"),
    "Assault": Label("assault", "fighting"),   # one person attacks another: blows, kicks
    "Abuse": Label("abuse", "fighting"),       # decided fighting (not shoving): a person beaten
    # Crimes against property: the people in view walk, reach, grab and carry; their own motion
    # holds no hazard of the taxonomy, so their clips are safe activities.
    "Burglary": Label("burglary"),
    "Shoplifting": Label("shoplifting"),
    "Stealing": Label("stealing"),
    "Vandalism": Label("vandalism"),
    "Normal": Label("normal activity"),
}
UCF_CRIME_EXCLUDED: dict[str, str] = {
    "Arrest": "calm arrests and violent take-downs mixed; officer or arrestee unknown",
    "Arson": "the event is fire, not a person's motion",
    "Explosion": "the event is an explosion; people are rarely in view",
    "RoadAccidents": "mostly vehicle collisions; pedestrians hit by cars are few and far",
    "Robbery": "threats with weapons, with or without contact: no single hazard",
    "Shooting": "shooters and victims mixed; victims' falls are rarely visible",
}

#: Le2i fall dataset (Charfi et al. 2013): windows cut at the annotated fall start/end frames.
LE2I_LABELS: dict[str, Label] = {
    "fall": Label("fall", "falling"),
    "no_fall": Label("daily activity"),  # before the fall, or a video without a fall
}
LE2I_EXCLUDED: dict[str, str] = {
    "after_fall": "the person lies on the floor or gets up after a fall: not a safe activity, "
                  "not the fall itself",
}

#: Labels left out of each source on purpose: source -> label -> why (skips, never guesses).
SOURCE_EXCLUDED: dict[str, dict[str, str]] = {
    "kinetics": KINETICS_EXCLUDED,
    "ucf-crime": UCF_CRIME_EXCLUDED,
    "le2i": LE2I_EXCLUDED,
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
    "kinetics": KINETICS_LABELS,
    "ucf-crime": UCF_CRIME_LABELS,
    "le2i": LE2I_LABELS,
    "up-fall-video": UP_FALL_LABELS,
}


def lookup(source: str, source_label: str) -> Label | None:
    """The reviewed label for ``source_label`` of ``source``, or None when it is unmapped."""
    return SOURCE_LABELS.get(source, {}).get(source_label)


def excluded(source: str, source_label: str) -> str | None:
    """Why ``source_label`` of ``source`` is left out on purpose, or None when it is not."""
    return SOURCE_EXCLUDED.get(source, {}).get(source_label)
