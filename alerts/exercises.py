"""The exercise library a prompt carries, written from the physio seeds, and its rotation.

Why these nine: prolonged sitting keeps the hip flexors (iliopsoas) shortened and the glutes idle, which
tilts the pelvis forward and loads the lower back. The seeds prescribe stretching the hip flexors
(kneeling hip flexor stretch, couch stretch, leg swings, walking lunges) and strengthening what opposes
them (glute bridges, donkey kicks, clam shells) and the core (bird-dog, plank). Dosage follows the seeds
(hold 20-30 s, 3 times; 10 slow repetitions, 2-3 sets) and ACSM (stretch holds 10-30 s, 2-4 repetitions).

Instructions are short on purpose: they are read on a phone notification.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: The seeds' warning signs, attached to every prompt.
SAFETY_ADVICE = (
    "A mild stretch is fine; stop if you feel sharp or increasing pain. "
    "Numbness, tingling or weakness in your legs, or back stiffness that does not go away, "
    "means see a doctor or physiotherapist."
)


@dataclass(frozen=True)
class Exercise:
    """One exercise as shown in a prompt."""

    key: str
    name: str
    instructions: str
    dosage: str
    purpose: str
    #: True when it needs floor space (a mat); a desk worker may prefer the standing ones.
    needs_floor: bool

    def to_json(self) -> dict[str, object]:
        payload = asdict(self)
        payload["safety"] = SAFETY_ADVICE
        return payload


LIBRARY: tuple[Exercise, ...] = (
    Exercise(
        key="kneeling_hip_flexor_stretch",
        name="Kneeling hip flexor stretch",
        instructions=(
            "Kneel on one knee (a cushion under it), the other foot flat in front, both knees at about 90°. "
            "Squeeze the glute of the kneeling side and gently shift your hips forward until you feel a "
            "stretch at the front of that hip. Back straight, core engaged."
        ),
        dosage="Hold 20-30 s, 3 times each side.",
        purpose="Lengthens the hip flexors that sitting shortens.",
        needs_floor=True,
    ),
    Exercise(
        key="couch_stretch",
        name="Couch stretch",
        instructions=(
            "Kneel with the top of your back foot against a couch or wall, shin along it, and the other "
            "foot forward in a lunge. Keep your torso upright and gently drive your hips forward: the "
            "stretch is in the front of the thigh and hip. A harder kneeling stretch, so ease into it."
        ),
        dosage="Hold 20-30 s, 2-3 times each side.",
        purpose="Deep stretch of the hip flexors and quadriceps.",
        needs_floor=True,
    ),
    Exercise(
        key="glute_bridge",
        name="Glute bridge",
        instructions=(
            "Lie on your back, knees bent, feet flat and hip-width apart. Squeeze your glutes and lift "
            "your hips until knees, hips and shoulders line up. Pause, then lower slowly. "
            "Do not arch your lower back."
        ),
        dosage="10 slow repetitions, 2-3 sets.",
        purpose="Wakes up the glutes that oppose tight hip flexors.",
        needs_floor=True,
    ),
    Exercise(
        key="donkey_kick",
        name="Donkey kick",
        instructions=(
            "On hands and knees, hands under shoulders, knees under hips, back flat and still. Squeeze "
            "your glute and lift one leg, driving the heel toward the ceiling; hold 1-2 s at the top. "
            "Slow and controlled."
        ),
        dosage="10 repetitions each side, 2-3 sets.",
        purpose="Isolates the gluteus maximus.",
        needs_floor=True,
    ),
    Exercise(
        key="clam_shell",
        name="Clam shell",
        instructions=(
            "Lie on your side, hips and knees bent, feet together. Keeping your feet touching and your "
            "pelvis still, lift the top knee as far as is comfortable, then lower it slowly."
        ),
        dosage="10-15 repetitions each side.",
        purpose="Activates the side glutes that steady the pelvis.",
        needs_floor=True,
    ),
    Exercise(
        key="leg_swings",
        name="Leg swings",
        instructions=(
            "Stand tall, one hand on your desk or a wall. Swing one leg forward and back in a controlled "
            "way, gradually bigger, keeping your torso still."
        ),
        dosage="10-15 swings each leg.",
        purpose="Moves the hip through its full range after sitting.",
        needs_floor=False,
    ),
    Exercise(
        key="walking_lunges",
        name="Walking lunges",
        instructions=(
            "Step forward into a lunge, back knee close to the floor, torso upright, then step through "
            "with the other leg. Each step stretches the hip flexor of the trailing leg."
        ),
        dosage="10 steps each leg.",
        purpose="A dynamic hip flexor stretch, and you are walking.",
        needs_floor=False,
    ),
    Exercise(
        key="bird_dog",
        name="Bird-dog",
        instructions=(
            "On hands and knees, back flat. Reach one arm forward and the opposite leg back until both "
            "are level with your body, without arching or twisting. Hold 2 s, return, switch sides."
        ),
        dosage="8-10 each side.",
        purpose="Core stability that supports the lower back.",
        needs_floor=True,
    ),
    Exercise(
        key="plank",
        name="Plank",
        instructions=(
            "Forearms on the floor under your shoulders, legs straight behind you, body in one line from "
            "head to heels. Tighten your stomach and glutes; do not let your hips sag."
        ),
        dosage="Hold 20-30 s, 2-3 times.",
        purpose="Core strength that steadies the spine.",
        needs_floor=True,
    ),
)

BY_KEY: dict[str, Exercise] = {exercise.key: exercise for exercise in LIBRARY}


class ExerciseRotation:
    """Hands out exercises round-robin, so a prompt never repeats the previous prompt's exercise.

    Round-robin rather than random: a person sees every exercise before any comes back, and the
    rotation is reproducible (replaying a recording gives the same prompts). Only ``last`` is state.
    """

    def __init__(self, library: tuple[Exercise, ...] = LIBRARY, last: str | None = None) -> None:
        if not library:
            raise ValueError("the exercise library is empty")
        self.library = library
        self.last = last if last in {e.key for e in library} else None

    def next(self) -> Exercise:
        keys = [e.key for e in self.library]
        index = 0 if self.last is None else (keys.index(self.last) + 1) % len(keys)
        chosen = self.library[index]
        self.last = chosen.key
        return chosen
