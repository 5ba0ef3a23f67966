"""The always-on red-flag screen over free text, English and Spanish together. Pure: no I/O."""

# How to read it: RED_FLAGS is the table (what each flag means, its level, its source); _TRIGGERS holds the
# phrases for each flag as regular expressions over normalised text (lowercase, no accents, SMS shorthand
# expanded: see text.py). A phrase counts unless, in its own clause, it is negated ("no chest pain"), past
# history ("10 years ago"), a baseline ("same as always"), hypothetical ("watch out for ...") or part of a
# general question with no one in it ("can a clot cause chest pain?"). Idioms are blanked out first.

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from bot.triage.text import SHORT_TEXT, normalise

Interrupt = Literal["emergency", "urgent", "crisis"]

_PRIORITY: dict[str, int] = {"urgent": 1, "emergency": 2, "crisis": 3}


@dataclass(frozen=True)
class RedFlag:
    id: str
    interrupt: Interrupt
    finding: str | None
    source: str
    description: str


@dataclass(frozen=True)
class Match:
    flag: RedFlag


@dataclass(frozen=True)
class Screen:
    interrupt: Interrupt | None
    matched: tuple[str, ...]
    findings: tuple[str, ...]
    # Flags named only in a general question or a hypothetical: worth one yes/no question, not an interrupt.
    mentioned: tuple[str, ...] = ()


_PE = 'REFERENCE.md red flags: breathless, chest pain, coughing blood, fainting (NHS "Deep vein thrombosis")'
_OTHER = 'REFERENCE.md: unrelated emergencies; NHS "When to call 999"'
_CRISIS = "REFERENCE.md: crisis messages (988 Suicide and Crisis Lifeline; NICE NG225 self-harm)"

RED_FLAGS: tuple[RedFlag, ...] = (
    RedFlag(
        "short_of_breath",
        "emergency",
        "short_of_breath",
        _PE,
        "New breathlessness, even on small effort: possible clot in the lung.",
    ),
    RedFlag(
        "chest_pain",
        "emergency",
        "chest_pain",
        _PE,
        "Chest pain, pressure or pain on breathing in: possible clot in the lung or heart attack.",
    ),
    RedFlag(
        "coughing_blood",
        "emergency",
        "coughing_blood",
        _PE,
        "Coughing or spitting up blood: possible clot in the lung.",
    ),
    RedFlag(
        "fainting",
        "emergency",
        "fainting_or_collapse",
        _PE,
        "Fainting, collapse or nearly fainting: possible clot in the lung.",
    ),
    RedFlag(
        "cold_pale_foot",
        "emergency",
        "cold_pale_foot",
        "REFERENCE.md red flags: cold, pale, numb or weak foot (RCEM Learning; popliteal aneurysm guidance)",
        "A cold, pale, white, blue or purple foot or leg: blocked artery, limb at risk.",
    ),
    RedFlag(
        "saddle_numbness",
        "emergency",
        "saddle_numbness_or_bladder_bowel",
        "REFERENCE.md red flags: saddle numbness, bladder or bowel trouble (NHS sciatica pages)",
        "Numbness between the legs or around the bottom: cauda equina syndrome.",
    ),
    RedFlag(
        "bladder_bowel",
        "emergency",
        "saddle_numbness_or_bladder_bowel",
        "REFERENCE.md red flags: saddle numbness, bladder or bowel trouble (NHS sciatica pages)",
        "New loss of bladder or bowel control, or cannot pass urine: cauda equina syndrome.",
    ),
    RedFlag(
        "compartment",
        "emergency",
        "tense_calf_pain_out_of_proportion",
        "REFERENCE.md red flags: pain out of proportion, rock-hard calf (RCEM Learning)",
        "Rock-hard calf, or pain through the roof or numb toes under a cast: compartment syndrome.",
    ),
    RedFlag(
        "deformity",
        "emergency",
        "obvious_deformity",
        "REFERENCE.md red flags: obvious deformity or high-energy injury (acute knee trauma pathways)",
        "Knee or leg out of shape, dislocated, or bone showing: dislocation or fracture.",
    ),
    RedFlag(
        "septic_knee",
        "emergency",
        "fever",
        "REFERENCE.md red flags: hot, red, swollen knee with fever (BSR/BOA hot swollen joint guideline)",
        "Hot, red or swollen knee together with fever or shivers: septic arthritis.",
    ),
    RedFlag(
        "calf_clot_signs",
        "urgent",
        "calf_swelling_one_side",
        "REFERENCE.md red flags: one-sided calf swelling, warmth or redness (NICE NG158)",
        "One calf or leg swollen, puffy or fatter than the other: possible DVT, same-day scan.",
    ),
    RedFlag(
        "calf_hot_red",
        "urgent",
        None,
        "REFERENCE.md red flags: one-sided calf swelling, warmth or redness (NICE NG158)",
        "One calf or leg hot or red: possible DVT, same-day assessment.",
    ),
    RedFlag("seizure", "emergency", None, _OTHER, "A seizure or fit."),
    RedFlag("choking", "emergency", None, _OTHER, "Choking."),
    RedFlag("turning_blue", "emergency", None, _OTHER, "Lips, face or skin turning blue or grey."),
    RedFlag(
        "stroke",
        "emergency",
        None,
        _OTHER + ' (NHS "Stroke": face, arms, speech)',
        "Stroke signs: face drooping, arm weakness, slurred speech.",
    ),
    RedFlag("heavy_bleeding", "emergency", None, _OTHER, "Heavy bleeding that will not stop."),
    RedFlag(
        "anaphylaxis",
        "emergency",
        None,
        _OTHER + ' (NHS "Anaphylaxis")',
        "Swelling of the throat, tongue or lips: severe allergic reaction.",
    ),
    RedFlag("overdose", "emergency", None, _OTHER, "Took too many pills or an overdose."),
    RedFlag("unconscious", "emergency", None, _OTHER, "Unconscious, unresponsive or not breathing."),
    RedFlag("suicidal", "crisis", None, _CRISIS, "Thoughts or plans of suicide."),
    RedFlag("self_harm", "crisis", None, _CRISIS, "Self-harm, or the urge to."),
)


# ---------------------------------------------------------------------------------------------------------
# Pattern helpers

_STRONG_GAP = r"(?!(?:but|pero|aunque|though|although|however|except)\b)[a-z0-9]+(?:\.\d+)?"
_WEAK_GAP = r"(?!(?:but|pero|aunque|though|although|however|except|and|y|e)\b)[a-z0-9]+"


def _near(a: str, b: str, gap: int = 6, back: int = 3) -> tuple[str, str]:
    """`a` then `b` within `gap` words, or `b` then `a` within `back`, in one clause; `b` is what negation reads."""
    return (
        rf"(?:{a})(?:\s+{_STRONG_GAP}){{0,{gap}}}?\s+(?P<key>{b})",
        rf"(?P<key>{b})(?:\s+{_WEAK_GAP}){{0,{back}}}?\s+(?:{a})",
    )


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


@dataclass(frozen=True)
class _Trigger:
    patterns: tuple[re.Pattern[str], ...]
    requires: tuple[re.Pattern[str], ...]  # each must also be said, un-negated, somewhere in the message
    unless: re.Pattern[str] | None  # a benign reading in the same clause (or sentence)
    unless_in_sentence: bool


def _trigger(
    *patterns: str | tuple[str, ...],
    requires: tuple[str, ...] = (),
    unless: tuple[str, ...] = (),
    unless_in_sentence: bool = False,
) -> _Trigger:
    flat: list[str] = []
    for p in patterns:
        flat.extend(p if isinstance(p, tuple) else (p,))
    return _Trigger(
        patterns=tuple(_rx(p) for p in flat),
        requires=tuple(_rx(r) for r in requires),
        unless=_rx(*unless) if unless else None,
        unless_in_sentence=unless_in_sentence,
    )


# ---------------------------------------------------------------------------------------------------------
# Vocabulary (normalised: no accents, "can't" -> "cannot")

_LIMB = r"foot|toes|leg|lower leg|shin|calf|pie|pierna|pantorrilla|dedos del pie|dedos"
_CALF = r"calf|leg|lower leg|pantorrilla|pierna|gemelo|chamorro"
_KNEE = r"knee|knees|kneecap|back of (my|the|her|his) knee|rodilla|rodillas|corva"
_CAST = r"cast|plaster|splint|yeso|escayola|ferula|enyesad[oa]|bota ortopedica"
_FEVER = (
    r"fever|feverish|febrile|high (temp|temperature)|(running|got|have|has|had|with) a (temperature|temp)"
    r"|(temp|temperature|temperatura)( \w+){0,3} (3[89]|4[0-2]|10[0-5])(\.\d)?"
    r"|(3[89]|4[0-2])(\.\d)? ?(c|degrees|grados)|shivering|shivers|shaking chills|chills|rigors|sweats"
    r"|(feel|feeling|feels|felt) (really |very |so |awfully |terribly )(ill|unwell|sick|rough|awful)"
    r"|fiebre|calentura|febril|temperatura alta|escalofrios|tiritando|me siento muy mal"
)
_BLOOD = (
    r"(?<!gave )(?<!give )(?<!giving )(?<!donated )(?<!donating )(?<!donate )"
    r"(?:blood|bloody|sangre|sangrado|ensangrentad\w*|pink froth\w*)"
    r"(?! (test|tests|work|pressure|thinner|thinners|sugar|count|type|clot|clots|donation|draw|vessels?))"
)
_COUGH = (
    r"cough|coughs|coughed|coughing|hacking|tos|toser|toso|tosi|tose|tosio|tosiendo|tosid[oa]|escupo|escupe"
    r"|escupi|escupiendo|spit|spits|spitting|spat|bring up|bringing up|brought up"
)
_BRUISE = r"bruis\w*|black and blue|moreton\w*|hematoma|cardenal\w*|un morado"
_BOTH = r"both|ambos|ambas|los dos|las dos"

_TRIGGERS: dict[str, tuple[_Trigger, ...]] = {
    "short_of_breath": (
        _trigger(
            r"short(ness)? of (breath|breathe)|out of breath|breathless\w*|winded|panting|gasping|suffocat\w*",
            r"(puffed|puffing|huffing)(?! up)",
            r"(cannot|could not|can barely|can hardly|could barely|could hardly|struggling to|struggle to"
            r"|struggled to|hard to|harder to|difficult to|difficulty|trouble|problems?|unable to|not able to"
            r"|fighting to|fight to) (\w+ ){0,2}(breathe|breath|breathing|get (my |her |his |enough )?(breath|air)"
            r"|catch (my|her|his|a) breath)",
            r"(stop|stops|stopping|stopped|pause|pausing|stand|standing) (\w+ ){0,4}(for|to catch|to get)"
            r" (my |her |his |a )?breath",
            r"breathing (is |has been |feels |got |gets |getting |so |very |really )*(fast|faster|heavy|heavier"
            r"|hard|harder|laboured|labored|shallow|rapid|difficult|weird|funny|strange|short|tight|bad|worse|noisy)",
            r"(only|just|barely) (get|say|speak|manage|talk) (\w+ )?(\d+|one|two|three|four|five|a few|few"
            r"|a couple of) words",
            r"air hunger|gulping (for )?air|(not|never) getting (enough )?air",
            r"falt(a|e|aba|o|an) (el |de )?(aire|aliento|respiracion)|disnea|asfixi\w*|jade\w*|sin aliento",
            r"(no puedo|no puede|no podia|no pude|me cuesta|le cuesta|dificultad (para|al)|trabajo para"
            r"|problemas para) (\w+ )?respirar",
            r"(me|le|se|te) (ahogo|ahoga|ahogaba|ahogue|esta ahogando|estoy ahogando)|ahogad[oa]|ahogo",
            r"no (me |le )?(entra|llega|alcanza|pasa) (el |suficiente )?aire",
            r"(me quedo|se queda|me quede|se quedo|quedo|quedarme) sin (aire|aliento|respiracion)",
            r"(me agito|se agita|agitad[oa]) (\w+ ){0,3}(caminar|camino|subir|subo|hablar|hablo|poco|pasos)",
            r"respir\w* (muy |super )?(rapido|agitad[oa]|con dificultad|entrecortad[oa]|con trabajo)",
        ),
    ),
    "chest_pain": (
        _trigger(
            _near(
                r"chest(?! (cold|infection|infections|xray|x ray|strap|press|hair|piercing|tattoo|pocket|freezer"
                r"|of drawers|compressions))|pecho|torax",
                r"pain|pains|painful|hurts?|hurting|ache|aches|aching|sore|tight|tighter|tightness|pressure"
                r"|heavy|heaviness|crushing|squeezing|squeezed|burning|stabbing|sharp|discomfort|dolor|dolores"
                r"|duele|duelen|dolia|presion|opresion|oprime|aprieta|apretad[oa]|punzadas?|ardor|molestia|peso"
                r"|killing me|mata|matando",
                gap=4,
                back=6,
            ),
            r"chest,? (it|that) (\w+ ){0,2}(hurts|aches|is (tight|sore|hurting|aching|heavy))",
            r"(sitting|standing|pressing|pushing|pressure|weight|elephant|crushing|squeezing|band)"
            r" (\w+ ){0,2}(on|around|across) (my|her|his) chest",
            r"(hurts|pain|painful|sharp|stabbing|catches|dolor|duele|punzada) (\w+ ){0,2}(to|when i|when you"
            r"|if i|on|al|cuando) (\w+ )?(breathe|breath|breathing|inhale|take a (deep )?breath|respirar"
            r"|respiro|inhalar|tomar aire)",
            r"(having|have|is having|am having|think i am having|could be|might be|may be|maybe|like) (a )?"
            r"heart attack",
            r"ataque (al|del) corazon|infarto|angina (attack|pain)|angina de pecho",
        ),
    ),
    "coughing_blood": (
        _trigger(
            _near(_COUGH, _BLOOD, gap=8, back=7),
            _near(r"phlegm|sputum|mucus|spit|saliva|flema|flemas|esputo|gargajo|mocos?", _BLOOD, gap=4),
            r"ha?emoptysis|hemoptisis",
            unless=(r"gums?|teeth|tooth|brush\w*|dentist|nose|nosebleeds?|encias|dientes|muela|nariz|cepill\w*",),
        ),
    ),
    "fainting": (
        _trigger(
            r"fainted|fainting|faints|passed out|pass out|passing out|passes out|blacked out|black out"
            r"|blacking out|blacks out|(lost|losing|lose) consciousness",
            r"(feel|feeling|felt|feels|went|going to|about to|gonna|nearly|almost|might|could|will) (really |very"
            r" |a bit |a little |kind of |sort of |so |quite |like i (might|could|am going to|will) )?faint"
            r"(?! (ache|pain|twinge|throb|line|smell|sound|mark|bruise))",
            r"desmay\w*|desvaneci\w*|desvanezco|(perdi|perdio|pierdo|perdiendo) (el )?(conocimiento|sentido"
            r"|la conciencia)|(me|se) (cai|cayo|caigo) redond[oa]",
        ),
        # "collapsed" is also what a knee does when it gives way: read the whole sentence.
        _trigger(
            r"keeled over|keel over|collapsed|collapse|collapsing|colaps\w*",
            unless=(
                r"knee|knees|leg|legs|arch|arches|ankle|foot|lung|lungs|veins?|rodilla|pierna|tobillo|pie"
                r"|arco|pulmon|gave way|gave out|gives way|buckled|tripped|slipped|se me doblo|se me fue",
            ),
            unless_in_sentence=True,
        ),
    ),
    "cold_pale_foot": (
        _trigger(
            _near(
                _LIMB,
                r"cold|colder|freezing|icy|ice cold|block of ice|like ice|pale|paler|white|whiter|grey|gray"
                r"|greyish|blue|bluish|purple|purplish|mottled|blotchy|dusky|waxy|frio|fria|helad[oa]|palid[oa]"
                r"|blanc[oa]|azul|azulad[oa]|morad[oa]|amoratad[oa]|moteado|marmoread[oa]|gris",
                gap=6,
                back=3,
            ),
            _near(_LIMB, r"(funny|strange|weird|odd|different|horrible|bad) colou?r|color (raro|extrano)", gap=6),
            unless=(
                _BRUISE,
                _BOTH,
                r"varicose|varices|veins?|venas?",
                r"(cold|ice|icy|frio|fria|hielo) (pack|packs|compress|water|therapy|spray|bath|shower|plunge|gel"
                r"|weather|day|morning|floor|tiles)",
                r"(put|putting|apply|applying|applied|used|using|with) (an )?ice|icing|hielo|compresas?|agua fria",
                r"(white|blue|purple|grey|gray|blanc[oa]|azul|morad[oa]) (sock|socks|shoe|shoes|trainers|sneakers"
                r"|brace|tape|bandage|cast|calcetin\w*|zapat\w*|venda\w*|rodillera)",
            ),
        ),
    ),
    "saddle_numbness": (
        _trigger(
            _near(
                r"groin|genitals?|genital area|privates|private parts|down there"
                r"|between (my|her|his|the) legs|entre (las|mis|sus) piernas"
                r"|bottom(?! of)|bum|butt|buttocks?|backside|anus|back passage|perineum|saddle( area)?"
                r"|inner thighs?|crotch|vagina|penis|testicles|scrotum|nalgas?|entrepierna|genitales"
                r"|zona intima|partes intimas|trasero|cola|pompis|perine|ingle|gluteos?",
                r"numb|numbness|numbed|no feeling|lost (all )?feeling|dental injection|dormid[oa]s?|durmio|duerme"
                r"|adormec\w*|entumec\w*|acorchad[oa]s?|insensible|sin sensibilidad|anestesiad[oa]s?",
                gap=5,
                back=4,
            ),
            r"(cannot|could not|do not|did not|does not|unable to|barely) feel (the |any )?(toilet paper|tissue"
            r"|paper|wiping|myself wipe|anything when i wipe|when i wipe|it when i wipe|my (bottom|bum|butt"
            r"|genitals|privates))",
            r"no (siento|sentia|sentir|siente) (\w+ ){0,2}(el papel|al limpiarme|cuando me limpio|al limpiarse"
            r"|mis partes|la entrepierna|las nalgas|los genitales)",
        ),
    ),
    "bladder_bowel": (
        _trigger(
            r"(wet|wetting|wetted|peed|peeing|pissed|soiled|soiling|pooed|pooped|messed|shat) (myself|my pants"
            r"|my trousers|my knickers|my underwear|the bed)",
            r"(leak|leaked|leaking|leaks) (\w+ )?(urine|wee|pee|poo|stool|faeces|feces)",
            r"(lost|losing|lose|no|cannot) control (of|over) (my |her |his )?(bladder|bowels?|pee|wee|poo|urine)",
            r"(cannot|could not|unable to|not able to|have not been able to|can barely) (pee|wee|urinate"
            r"|pass urine|pass water|empty my bladder|go for a wee|go for a pee)",
            r"(have not|has not|had not|did not|not) (peed|urinated|had a (wee|pee)|passed (urine|water))"
            r" (all day|since|for|in)",
            r"(bladder|bowel|bowels) (\w+ )?(problems?|trouble|issues?|accidents?|incontinence|not working"
            r"|stopped working|control)",
            r"(urinary|faecal|fecal|bowel|bladder) incontinence|incontinent",
            r"(cannot|could not|do not|did not) feel (when|if|that) (i|my bladder) (need|needed|is|was) (to|full)",
            r"se me (escapa|escapo|salio|sale|escapan) (la |el )?(orina|pipi|pis|caca|popo|heces|excremento)",
            r"me (hice|hago|orine|orino|cague|cago) (pipi |pis |popo |caca )?(encima|en la cama|en los pantalones"
            r"|sin darme cuenta)",
            r"no (puedo|pude|he podido|puede) (orinar|hacer pipi|hacer pis)",
            r"(no controlo|perdi el control de|no puedo controlar|sin control de) (la orina|la vejiga|el esfinter"
            r"|los esfinteres|las heces|el intestino)",
            r"incontinencia|(problemas?|dificultad) (\w+ )?(para|al) (orinar|evacuar|hacer pipi|hacer del bano)",
            r"no (puedo|pude|puede) (evacuar|hacer del bano)",
            unless=(
                r"when i (cough|sneeze|laugh|jump|run|lift)|(cuando|al) (toso|toser|estornudo|estornudar"
                r"|me rio|reir|salto|saltar)",
            ),
        ),
    ),
    "compartment": (
        _trigger(
            _near(
                r"calf|leg|shin|lower leg|pantorrilla|pierna|gemelo|espinilla",
                r"rock hard|hard as (a )?(rock|stone|brick|board|wood)|hard like (a )?(rock|stone|brick|board)"
                r"|like (a )?(rock|stone|brick|board)|rigid|tense and shiny|tight as a drum"
                r"|dur[oa] como (una )?(piedra|roca|tabla)|durisim[oa]|tiesa|rigid[oa]",
                gap=4,
                back=2,
            ),
        ),
        _trigger(
            r"crushing|crushed|crush|too tight|so tight|really tight|very tight|through the roof|unbearable"
            r"|excruciating|agony|agonising|agonizing|worst pain|screaming|off the (scale|charts)|insoportable"
            r"|no (lo )?aguanto|aprieta (mucho|muchisimo|demasiado)|muy apretad[oa]",
            r"(toes|dedos)( \w+){0,3} (numb|tingling|pins and needles|dormid[oa]s|adormecid[oa]s|entumecid[oa]s"
            r"|cold|blue|white|frios|morados)",
            r"(numb|tingling|dormid[oa]s|adormecid[oa]s|entumecid[oa]s) (\w+ ){0,2}(toes|dedos)",
            r"(cannot|can barely|could not|no puedo|no puede) (move|wiggle|mover) (my |his |her |los )?(toes|dedos)",
            requires=(_CAST,),
        ),
    ),
    "deformity": (
        _trigger(
            _near(
                r"knee|knees|kneecap|leg|shin|rodilla|rotula|pierna",
                r"out of (place|line|joint)|deformed|misshapen|bent (the )?wrong way|(facing|pointing|bent"
                r"|twisted) (the )?(wrong way|sideways|backwards)|at (a|an) (weird|funny|strange|odd|unnatural)"
                r" angle|dislocated|deforme|deformad[oa]|fuera de (lugar|sitio)"
                r"|doblad[oa] (al reves|para atras|hacia atras)",
                gap=4,
                back=3,
            ),
            r"(bone|hueso) (\w+ ){0,2}(sticking|poking|coming|showing|salido|saliendo|afuera|expuesto|sobresale)",
            r"dislocat\w*|luxaci\w*|fractura expuesta|open fracture|compound fracture",
            r"se me salio (la rodilla|la rotula)",
            unless=(
                r"(went|popped|slid|got put|put|came) back( in| into place)?",
                r"se (volvio|regreso) a su (lugar|sitio)",
            ),
        ),
        # "Out of shape" is also what unfit people say about themselves: read the whole sentence.
        _trigger(
            _near(r"knee|knees|kneecap|leg|shin", r"out of shape", gap=4, back=1),
            unless=(r"lazy|unfit|fitness|i am (so |really )?out of shape|(get|getting|back) (back )?in(to)? shape",),
            unless_in_sentence=True,
        ),
    ),
    "septic_knee": (
        _trigger(
            r"hot|warm|red|reddish|pink|swollen|swelling|swelled|swole|puffed up|puffy|inflamed|hinchad[oa]"
            r"|hinchazon|inflamad[oa]|roj[oa]|caliente|colorad[oa]|enrojecid[oa]",
            requires=(_KNEE, _FEVER),
        ),
    ),
    "calf_clot_signs": (
        _trigger(
            _near(
                _CALF,
                r"swollen|swelling|swelled|swole|puffy|puffier|puffed up|fatter|bigger|thicker|larger|huge"
                r"|enormous|doubled in size|twice the size|double the size|hinchad[oa]|hinchazon|hincho|hinchaba"
                r"|hinchando|inflamad[oa]|mas gord[oa]|mas grande|mas gruesa|abultad[oa]",
                gap=6,
                back=3,
            ),
            r"(fatter|bigger|thicker|larger|more swollen|puffier|tighter|swollen) than the other( one| leg| calf"
            r"| side)?",
            r"one (calf|leg) (is |looks |feels )?(bigger|fatter|thicker|larger|more swollen|puffier|tighter"
            r"|swollen)",
            r"mas (grande|gorda|gruesa|hinchada|inflamada) que la otra",
            r"(swelling|swollen|hinchazon) (\w+ ){0,6}(down|into|to|spread\w*|extends|hasta|a la|en la)"
            r" (\w+ ){0,2}(calf|leg|pantorrilla|pierna)",
            unless=(_BOTH, r"calves|legs|piernas|pantorrillas"),
        ),
    ),
    "calf_hot_red": (
        _trigger(
            _near(
                _CALF, r"hot|warm|warmer|red|redder|reddish|caliente|roj[oa]|enrojecid[oa]|colorad[oa]", gap=6, back=3
            ),
            unless=(
                _BOTH,
                r"calves|legs|piernas|pantorrillas",
                r"warm(ing)? up|keep (it|my leg|the leg) warm"
                r"|(warm|hot) (compress|compresses|pack|towel|bath|shower|water|flannel|water bottle)|heat\w*"
                r"|wheat bag|compresas?|panos?|bolsa de agua caliente|sunburn\w*|quemadura|red (sock|socks"
                r"|shoe|shoes|tape|brace)",
            ),
        ),
    ),
    "seizure": (
        _trigger(
            r"seizure|seizures|seizing|convuls\w*|having a fit|had a fit|epileptic (fit|attack)",
            r"(is|are|was|been|started|keeps|keep|begun|began) fitting(?! (well|fine|ok|okay|nicely|properly|right"
            r"|better|into|in|over|around|snug|tight|loose|perfectly|comfortably|on (my|the|your|his|her|their)"
            r" (knee|leg|calf|thigh|foot)))",
            r"(ataque|crisis) (epileptic[oa]|convulsiv[oa])",
        ),
    ),
    "choking": (
        _trigger(
            r"(choking|choked|chokes|choke)(?! (back|up|hold|on (my|his|her) words))",
            r"(something|food|it) (is )?stuck in (my|his|her|their|the babys|the baby) throat",
            r"atragant\w*|se (esta )?(atoro|atora|atorando|ahogando con)|atorad[oa] en la garganta",
        ),
    ),
    "turning_blue": (
        _trigger(
            r"(turning|turned|gone|going|went|getting) (blue|grey|gray)",
            r"(lips|face|mouth|skin) (are |is |look |looks |went |gone |going |turning |turned )?(blue|purple"
            r"|grey|gray)",
            r"se (esta )?(poniendo|puso|pone|ha puesto) (morad[oa]|azul|gris)",
            r"labios (morados|azules)|cianotic\w*|cyanos\w*",
            unless=(_BRUISE, _LIMB, r"knee|rodilla|tobillo|ankle|sock|socks|shirt|light"),
        ),
    ),
    "stroke": (
        _trigger(
            r"(having|had|has|suffered|suffering|is having|am having|be having|been having) (a |another )?"
            r"(mini )?stroke",
            r"mini stroke|transient isch?a?emic attack",
            r"ictus|derrame cerebral|embolia cerebral|accidente cerebrovascular|acv",
            r"(face|mouth|smile) (\w+ ){0,2}(droop\w*|lopsided|crooked|fallen|dropped)|droopy (face|mouth|eye)",
            r"(slurred|slurring|garbled) (speech|words|talk|his words|her words|my words)|slurring",
            r"(cannot|could not|unable to) (speak|talk) (properly|clearly|right)|words (come|are coming) out wrong",
            r"(boca|cara) (torcida|chueca|caida|ladeada|desviada)|se le (cayo|cae|torcio|tuerce|desvio)"
            r" (la boca|la cara|un lado)",
            r"(habla|hablando) (raro|arrastrando|trabad[oa])|arrastra las palabras",
            r"(sudden|suddenly) (\w+ ){0,2}(weakness|numbness|numb|weak) (\w+ ){0,3}one side",
            r"one side of (his|her|my|their) (face|body) (\w+ ){0,2}(numb|weak|droop\w*|dropped|paralys\w*"
            r"|paralyz\w*)",
        ),
    ),
    "heavy_bleeding": (
        _trigger(
            r"(bleeding|bleeds|bled)( \w+){0,2} (heavily|a lot|badly|profusely|everywhere|like crazy|nonstop"
            r"|non stop|and (it )?will not stop|will not stop|would not stop|does not stop|through (the )?"
            r"(bandage|dressing|towel))",
            r"(will not|would not|does not|cannot|can not) stop (the )?bleeding",
            r"(blood|sangre) (is )?(everywhere|pouring|gushing|spurting|pumping|por todos lados|por todas partes"
            r"|a chorros)",
            r"(pouring|gushing|spurting|pumping) (out )?blood|(lots|loads|tons|so much|a lot|pool|pools) of blood",
            r"(massive|major|severe|heavy|huge) (bleed|bleeding|blood loss)|ha?emorrhag\w*|hemorragia",
            r"(vomit\w*|throwing up|threw up|throw up|puking|being sick) (\w+ ){0,2}blood|vomit\w* sangre",
            r"(sangra|sangrando|sangrado|sangrar)( \w+){0,2} (mucho|muchisimo|sin parar|abundante|a chorros"
            r"|fuerte|que no para)|no (para|deja) de sangrar|mucha sangre",
            unless=(r"period|periods|menstrua\w*|regla",),
        ),
    ),
    "anaphylaxis": (
        _trigger(
            r"anaphyla\w*|anafila\w*",
            r"(throat|tongue|lips|mouth) (\w+ ){0,4}(swelling|swollen|swelled|closing|closing up|tightening"
            r"|puffing up|blowing up)",
            r"(swollen|swelling) (throat|tongue|lips)",
            r"(used|use|using|needed|need|gave|give) (my |an |her |his )?epi ?pen",
            r"se me (esta )?(cierra|cerrando) la garganta|(garganta|lengua|labios) (\w+ ){0,2}(hinchad[oa]s?"
            r"|inflamad[oa]s?|cerrando)|se me (hincha|hinchan|hincho|hincharon|inflamo|inflamaron)"
            r" (la garganta|la lengua|los labios)",
            r"reaccion alergica (grave|fuerte|severa)",
        ),
    ),
    "overdose": (
        _trigger(
            r"overdos\w*|od|sobredosis",
            r"(took|taken|swallowed|had|ate|downed|take|taking)( \w+){0,3} (too many|too much|a (whole|full)"
            r" (bottle|box|pack|packet|strip)|all (of )?(my|his|her|the|their) (pills|tablets|meds|medication"
            r"|painkillers|tramadol|oxycodone|codeine|paracetamol|ibuprofen|sleeping pills)|([1-9]\d+|twenty"
            r"|thirty|forty|fifty|loads of|lots of|a handful of|a bunch of) (pills|tablets|painkillers"
            r"|paracetamol|tramadol|codeine|ibuprofen))",
            r"(tome|tomo|tomaba|se tomo|me tome|trague|se trago)( \w+){0,3} (demasiad[oa]s|tod[oa]s (las|mis|sus)"
            r" (pastillas|pildoras|tabletas|medicinas)|una caja (entera|completa)|un frasco( entero)?"
            r"|muchas (pastillas|pildoras|tabletas)|un monton de (pastillas|pildoras))",
        ),
    ),
    "unconscious": (
        _trigger(
            r"unconscious|unresponsive|inconsciente",
            r"not (responding|breathing|waking)(?! (to|properly|well|right|normally|good))",
            r"(will not|would not|cannot|can not|could not|does not) (wake (him|her|them|up)|respond|come round)",
            r"no (reacciona|responde|despierta|respira)(?! (a|bien|al))",
        ),
    ),
    "suicidal": (
        _trigger(
            r"kill (myself|my self|meself|himself|herself|themselves)|killing (myself|himself|herself)"
            r"(?! (at|in|with|over|trying|to (get|finish|make|pay)))",
            r"(end|ending|take|taking) (my|my own|his|her) life|end (it|it all|things|everything)|suicid\w*",
            r"(want|wanted|wanna|wish|going|ready) (to )?die|wish i (was|were) dead|better off (dead|without me)",
            r"wish i (was not|were not|was never|had never been) (alive|here|born)",
            r"(do not|no longer) (want|wish) to (live|be alive|be here|wake up|go on)",
            r"no (reason|point) (to|in) (live|living|going on|being alive)",
            r"(me )?quiero morir|quisiera morir(me)?|(quiero|voy a|pienso|pensando en|ganas de) (matarme"
            r"|suicidarme|quitarme la vida|acabar con (todo|mi vida))",
            r"quitarme la vida|quitarse la vida|no quiero (vivir|seguir viviendo|despertar|seguir)",
            r"no (vale|tiene sentido) (la pena )?(vivir|seguir)|estarian mejor sin mi|mejor (estaria )?muert[oa]",
            r"(me voy a|me quiero|quisiera) matar|acabar con todo|terminar con todo|quiero desaparecer",
        ),
    ),
    "self_harm": (
        _trigger(
            r"self ?harm\w*|slit (my|his|her) wrists?",
            r"(cutting|burning|harming) (myself|my arms|my wrists|my legs)",
            r"(want|wanted|going|thinking about|urge|urges|feel like|thoughts of|about) (to )?(hurt|harm|cut|hurting"
            r"|harming|cutting) myself",
            r"(quiero|voy a|pienso en|ganas de|pensando en|tentad[oa] a|tentacion de) (\w+ )?(hacerme dano"
            r"|lastimarme|cortarme|herirme)",
            r"(hurt|harm|cut|burn|burned|burnt|hurting|cutting) myself on purpose|deliberately (hurt|harm|cut)"
            r"|hacerme dano a (mi mism[oa]|proposito)|autolesi\w*|me (corto|estoy cortando|he cortado)"
            r" (las venas|los brazos|las munecas)",
        ),
    ),
}

# Figures of speech, blanked out before anything else. A real symptom beside one still counts.
_IDIOMS = _rx(
    r"dead on my feet|(dead|dog|bone) tired",
    r"dying (for|to)|(bored|scared|frightened|worried|sick) to death|to die for|killing it|(could|would) kill for",
    r"(die|died|dying) (of|from) (embarrassment|shame|laughter|laughing|boredom)",
    r"(nearly|almost|practically) (had|have|having|gave me|give me) a heart attack|gave me a heart attack"
    r"|heart attack (when|at|over|after) (i|seeing|the|looking|reading)",
    r"(getting|get|got|have|having|had) cold feet",
    r"(get|got|getting) (this|that|it|something) off my chest|breathing down my neck|take my breath away"
    r"|breathtaking",
    r"(have|having|had|throw|throwing|threw|pitch|pitching) a (fit|hissy fit|wobbly) (about|over|when|because|if)",
    r"(will|would|going to|is going to) (have|throw) a fit",
    r"choked up|choking back|(nearly|almost) (shit|shat|pissed|wet) (myself|my pants)"
    r"|(pissed|wet|peed) (myself|my pants) laughing",
    r"overdos\w* on (sugar|chocolate|caffeine|coffee|netflix|tv|carbs|candy)|stroke of (luck|genius)",
    r"(me|se|nos) (muero|muere|moria) de (hambre|sueno|risa|ganas|frio|calor|verguenza|aburrimiento|cansancio"
    r"|miedo|nervios)",
    r"muert[oa] de (cansancio|sueno|hambre|risa|frio|miedo)|estoy muert[oa]",
    r"(casi|por poco) me (da|dio|daba) (un )?(infarto|ataque|patatus|soponcio|algo)",
    r"me (va|iba) a dar (un )?(infarto|ataque|patatus|algo) (cuando|al|si)",
    r"infarto (cuando|al) (vi|ver|leer|saber)|ahog\w* en un vaso de agua",
)

# ---------------------------------------------------------------------------------------------------------
# Context: clauses, negation, history, hypotheticals, general questions

# fmt: off
_NEGATORS = frozenset({
    "no", "not", "never", "nor", "neither", "none", "nothing", "denies", "deny", "without",
    "ni", "nunca", "jamas", "tampoco", "nada", "ningun", "ninguna", "ninguno", "sin",
})
_POST_NEGATORS = frozenset({"no", "none", "nope", "nah", "never", "negative", "nada", "ninguno", "ninguna",
                            "nunca", "not", "really", "at", "all"})
# "without" after a negative is a positive: "cannot walk without panting", "no puedo caminar sin ahogarme".
_DOUBLE_NEGATIVES = frozenset({"cannot", "not", "no", "never", "barely", "hardly", "apenas", "nunca"})
# A negator followed by these does not negate what comes after: "not sure", "won't stop", "no se me quita".
_PSEUDO_NEGATION = re.compile(
    r"\s*(?:sure|certain|only|just|idea|doubt|wonder|better|improving|getting better|going away|go away"
    r"|stop|stopping|able|been able|letting up|easing|working|helping"
    r"|(?:been|felt|had) (?:this|so|anything|such|like)|no\b"
    r"|se (?:si|que|como|cuando|bien|porque)\b"
    r"|(?:(?:se|me|te|le|lo|la|nos) ){0,2}(?:quita|va|deja|dejan|para|paro|mejora|aguanto|puedo|puede|pude|podia"
    r"|logro|consigo)\b)"
)
_STRONG_BREAKS = frozenset({"but", "however", "though", "although", "except", "yet", "besides", "pero",
                            "aunque", "sino", "excepto", "salvo", ";"})
_WEAK_BREAKS = frozenset({",", "and", "y", "e", "so", "then", "now", "plus", "also", "because", "porque",
                          "ahora", "tambien", "pues", "entonces", "luego", "just", "only", "solo", "nomas",
                          "when", "while", "cuando", "mientras"})
_OR_WORDS = frozenset({"or", "nor", "o", "ni"})
_PRONOUNS = frozenset({"i", "she", "he", "we", "they", "my", "his", "her", "it", "you"})
_SUBJECTS = frozenset({"i", "my", "she", "he", "her", "his", "it", "we", "they", "now", "yo", "mi", "me",
                       "estoy", "tengo", "ahora", "se", "le"})
# fmt: on

_HISTORY = _rx(
    r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|few|couple of|several|many"
    r"|some) (years?|decades?) ago|([6-9]|1[0-2]|six|seven|eight|nine|ten|eleven|twelve|many) months ago",
    r"(years|decades|ages|a long time|long time) (ago|back)",
    r"last (year|month|summer|winter|spring|autumn|fall|christmas)|in (19|20)\d\d",
    r"as a (kid|child|teen|teenager|baby|boy|girl)",
    r"when i was (a kid|a child|young|younger|little|small|a teenager|a teen|pregnant|at school|in school|\d+)",
    r"history of|used to|in the past|previously|runs? in (the|my|our) family|(died|passed away|death) (of|from)",
    r"hace (\d+|un|una|unos|unas|varios|varias|muchos|muchas|mucho|dos|tres|cuatro|cinco|diez) (anos?|decadas?)"
    r"|hace ([6-9]|1[0-2]|seis|siete|ocho|nueve|diez|muchos) meses",
    r"(el|la) (ano|mes) pasad[oa]|el (verano|invierno) pasado|en (19|20)\d\d",
    r"(de|cuando era) (nino|nina|pequeno|pequena|joven|chic[oa]|adolescente)",
    r"antecedentes?|historial|(en|de) (la|mi) familia|solia|en el pasado|antes (tenia|tuve|sufria)"
    r"|(murio|fallecio|muerte) (de|por)",
)
_SINCE = _rx(r"since|desde")
_CONTINUATION = re.compile(r"\s*(was|were|had|got|felt|became|estaba|estuve|tuve|tenia|fue)\b")
_BASELINE = _rx(
    r"(same as|as|like) (always|usual|ever)|always (been|had|have)|for (years|ages|decades)"
    r"|(all|whole) (my|her|his) life",
    r"(como|igual que) (siempre|de costumbre)|de siempre|desde siempre|toda (la|mi|su) vida|desde hace (anos|mucho)"
    r"|siempre (he|ha) (tenido|sido)",
)
_NEWNESS = _rx(
    r"new|worse|worsening|different|than usual|than ever|sudden|suddenly|today|tonight|this morning|now",
    r"since (yesterday|this morning|last night|today|the (op|operation|surgery|fall|accident|injury|cast))",
    r"nuev[oa]|peor|empeor\w*|distint[oa]|diferente|de repente|repentin[oa]|hoy|esta noche|esta manana|ahora"
    r"|desde (ayer|anoche)|mas que (nunca|de costumbre)",
)
_HYPOTHETICAL = _rx(
    r"what if|in case|incase|(watch|watching|look|looking|keep an eye) (out )?for",
    r"(call|ring|phone|go to|dial|head to) (\w+ ){0,4}if",
    r"if (i |you |she |he |they |we |it |this |that )?(ever|start to|start|starts|develop|develops|become|becomes"
    r"|begin to|begins to|turns into|turn into|leads to|lead to)",
    r"que pasa si|en caso de( que)?|(si|cuando) (\w+ )?(llego|llega|empiezo|empieza|comienzo|comienza|vuelvo"
    r"|vuelve) a|si (me )?(aparece|aparecen|diera|llegara)",
    r"(estar|este|estoy) (atent[oa]|pendiente) (a|de)|vigilar (si|que)|(llamar|llame|ir|vaya) (\w+ ){0,4}si",
)
_HYPOTHETICAL_IN_QUESTION = _rx(
    r"if (i |you |she |he |they |we )?(get|have|feel|notice|experience)",
    r"(signs?|symptoms?) (of|like|such as)|such as",
    r"si (me |le |te )?(da|dan|tengo|tiene|siento|noto)|(signos|sintomas|senales) (de|como)",
)
_PERSONAL = _rx(
    r"i|me|my|mine|myself|we|us|our|she|her|he|him|his|they|them|their|mum|mom|dad|wife|husband|son|daughter"
    r"|baby|partner|friend",
    r"yo|mi|mis|estoy|tengo|siento|noto|nos|nuestr[oa]|le|ella|su|sus|mama|papa|esposa|esposo|hij[oa]|bebe"
    r"|nin[oa]|amig[oa]|pareja",
)
# Statements about the world, not about anyone: "the leaflet lists chest pain as a warning sign".
_GENERIC = _rx(
    r"warning signs?|red flags?|signs? (of|like)|symptoms? (of|like|include)|leaflet|booklet|website|article"
    r"|video|google|can cause|may cause|could cause|is a sign|are signs",
    r"signos de alarma|senales de alarma|sintomas de|puede causar|puede dar|folleto|articulo",
)
# Asking whether something is normal or serious is asking about oneself.
_SELF_CHECK = _rx(
    r"normal|ok|okay|alright|usual|expected|serious|dangerous|bad sign|worry|worried|concern\w*",
    r"grave|peligros[oa]|preocup\w*",
)

_TOKEN = re.compile(r"[a-z0-9]+(?:\.\d+)?|[,;]")
_SENTENCE = re.compile(r"(?:[^.!?\n]|(?<=\d)\.(?=\d))+[.!?\n]*")


@dataclass(frozen=True)
class _Sentence:
    text: str
    tokens: tuple[tuple[str, int, int], ...]  # (token, start, end)
    breaks: tuple[int, ...]  # per token: 0 none, 1 weak clause break, 2 strong
    question: bool
    general_question: bool


def _sentences(text: str) -> Iterator[_Sentence]:
    for m in _SENTENCE.finditer(text):
        body = m.group(0)
        toks = tuple((t.group(0), t.start(), t.end()) for t in _TOKEN.finditer(body))
        breaks = []
        for i, (tok, _, _) in enumerate(toks):
            nxt = toks[i + 1][0] if i + 1 < len(toks) else ""
            if tok in _STRONG_BREAKS or (tok == "," and nxt in _SUBJECTS):
                breaks.append(2)
            elif tok in _WEAK_BREAKS:
                breaks.append(1)
            else:
                breaks.append(0)
        question = body.rstrip().endswith("?")
        personal = bool(_PERSONAL.search(body))
        general = not personal and (
            (question and not _SELF_CHECK.search(body)) or (not question and bool(_GENERIC.search(body)))
        )
        yield _Sentence(body, toks, tuple(breaks), question, general)


def _index_at(s: _Sentence, pos: int) -> int:
    for i, (_, _start, end) in enumerate(s.tokens):
        if end > pos:
            return i
    return len(s.tokens)


def _clause(s: _Sentence, i: int, level: int) -> tuple[int, int]:
    """Character span of the clause around token i, cut at breaks of at least `level`."""
    start, end = 0, len(s.text)
    for j in range(i - 1, -1, -1):
        if s.breaks[j] >= level:
            start = s.tokens[j][2]
            break
    for j in range(i, len(s.tokens)):
        if s.breaks[j] >= level:
            end = s.tokens[j][1]
            break
    return start, end


def _starts_statement(s: _Sentence, j: int) -> bool:
    """An English subject after "no" (but not Spanish "no he tosido", "no he dormido")."""
    if j >= len(s.tokens) or s.tokens[j][0] not in _PRONOUNS:
        return False
    following = s.tokens[j + 1][0] if j + 1 < len(s.tokens) else ""
    return not (s.tokens[j][0] == "he" and following.endswith(("ado", "ido", "ada", "ida", "to", "cho")))


def _or_list_around(s: _Sentence, j: int) -> bool:
    """Is the comma at token j inside a list such as "no chest pain, cough or fever"?"""
    for k in range(j + 1, len(s.tokens)):
        if s.tokens[k][0] in _OR_WORDS:
            return True
        if s.breaks[k]:
            return False
    return False


def _negated_before(s: _Sentence, i: int, window: int) -> bool:
    budget = window
    j = i - 1
    while j >= 0 and budget > 0:
        tok, _, end = s.tokens[j]
        if s.breaks[j] and not (window > 1 and tok == "," and s.breaks[j] == 1 and _or_list_around(s, j)):
            return False
        budget += 3 if tok in _OR_WORDS else -1  # a negation carries along a list: "no X or Y or Z"
        j -= 1
        if tok not in _NEGATORS or _PSEUDO_NEGATION.match(s.text, end):
            continue
        if tok == "no" and _starts_statement(s, j + 2):
            continue  # "no i cannot breathe": an answer, then a new statement
        if tok in ("without", "sin") and any(t in _DOUBLE_NEGATIVES for t, _, _ in s.tokens[max(0, j - 3) : j + 1]):
            continue
        return True
    return False


def _negated_after(s: _Sentence, end: int) -> bool:
    """'chest pain: none', 'coughing blood - no'."""
    after = []
    for j in range(_index_at(s, end), len(s.tokens)):
        if s.breaks[j]:
            break
        after.append(s.tokens[j][0])
    return bool(after) and after[0] in _NEGATORS and all(t in _POST_NEGATORS for t in after)


def _status(s: _Sentence, m: re.Match[str], trigger: _Trigger, crisis: bool) -> str:
    """'live', 'mentioned' (in a general question or a hypothetical) or 'off'."""
    anchor = m.start("key") if "key" in m.re.groupindex else m.start()
    i = _index_at(s, anchor)
    c_start, c_end = _clause(s, i, 1)
    clause = s.text[c_start:c_end]
    if trigger.unless is not None and trigger.unless.search(s.text if trigger.unless_in_sentence else clause):
        return "off"
    if _CONTINUATION.match(clause):  # "had covid 2 years ago and was short of breath then"
        clause = s.text[_clause(s, i, 2)[0] : c_end]
    past = _HISTORY.search(clause)
    if past and not _SINCE.search(clause, 0, past.start()):  # "swollen since my op 3 months ago" is current
        return "off"
    s_start, s_end = _clause(s, i, 2)
    if _BASELINE.search(s.text[s_start:s_end]) and not _NEWNESS.search(s.text):
        return "off"
    # Crisis words are answered even when hedged or asked about; only a negator right before them
    # counts ("not suicidal", "no quiero morirme"), so "not gonna lie, I want to end it" still does.
    if _negated_before(s, i, window=1 if crisis else 7) or (not crisis and _negated_after(s, m.end())):
        return "off"
    if crisis:
        return "live"
    prefix = s.text[s_start:anchor]
    if _HYPOTHETICAL.search(prefix) or (s.question and _HYPOTHETICAL_IN_QUESTION.search(prefix)):
        return "mentioned"
    if s.general_question:
        return "mentioned"
    return "live"


def _find(sentences: tuple[_Sentence, ...], pattern: re.Pattern[str], trigger: _Trigger, crisis: bool) -> str:
    best = "off"
    for s in sentences:
        for m in pattern.finditer(s.text):
            status = _status(s, m, trigger, crisis)
            if status == "live":
                return status
            if status == "mentioned":
                best = status
    return best


_PLAIN = _Trigger(patterns=(), requires=(), unless=None, unless_in_sentence=False)


def _fires(sentences: tuple[_Sentence, ...], trigger: _Trigger, crisis: bool) -> str:
    found = "off"
    for pattern in trigger.patterns:
        status = _find(sentences, pattern, trigger, crisis)
        if status == "live":
            found = "live"
            break
        if status == "mentioned":
            found = "mentioned"
    if found == "live" and not all(_find(sentences, r, _PLAIN, False) == "live" for r in trigger.requires):
        return "off"
    return found


def screen(text: str, locale: str = "en") -> Screen:
    """Screen one message. Both languages are always tried, whatever `locale` says.

    Most messages are short answers that many people send ("2", "no"): those are screened once and remembered
    (the screen is pure; longer texts, which could say something personal, are not kept)."""
    if len(text) <= SHORT_TEXT:
        return _screen_short(text)
    return _screen(text)


@functools.lru_cache(maxsize=4096)
def _screen_short(text: str) -> Screen:
    return _screen(text)


def _screen(text: str) -> Screen:
    cleaned = _IDIOMS.sub(" , ", normalise(text))
    sentences = tuple(_sentences(cleaned))
    matched: list[RedFlag] = []
    mentioned: list[str] = []
    for flag in RED_FLAGS:
        outcomes = {_fires(sentences, t, flag.interrupt == "crisis") for t in _TRIGGERS[flag.id]}
        if "live" in outcomes:
            matched.append(flag)
        elif "mentioned" in outcomes:
            mentioned.append(flag.id)
    interrupt: Interrupt | None = None
    for flag in matched:
        if interrupt is None or _PRIORITY[flag.interrupt] > _PRIORITY[interrupt]:
            interrupt = flag.interrupt
    findings = tuple(dict.fromkeys(f.finding for f in matched if f.finding is not None))
    return Screen(interrupt, tuple(f.id for f in matched), findings, tuple(mentioned))


def match_flags(text: str, locale: str = "en") -> tuple[Match, ...]:
    """The matched red flags themselves, in table order."""
    ids = set(screen(text, locale).matched)
    return tuple(Match(f) for f in RED_FLAGS if f.id in ids)
