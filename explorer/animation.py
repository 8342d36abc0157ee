"""The backward pass as an animation: one frame per step, in the order PyTorch's engine ran them.

Each frame is the annotated graph with the node being run highlighted, the
gradients received so far (a node's gradient appears once every consumer
has sent its share; an edge shows what flowed along it once its sender has
run; the rest is greyed, their text dotted out to the same width so the
layout never moves), and the step's chain rule written under the graph.
The frames follow the app's step-through: the engine's steps
(``graph.steps``), then one frame per leaf, where its ``.grad`` is complete.

Frames are drawn by Graphviz (the graph and the caption, the same font) and
put together by Pillow: no browser, the same bytes every time.

>>> import explorer
>>> ex = explorer.explore("x**3 + 2*x**2 + 8*x", x=4)
>>> movie = animate(ex)
>>> len(movie.frames) == len(ex.graph.steps) + sum(n.kind == "leaf" for n in ex.nodes)
True
>>> movie.frames[-1].text
'x.grad = 72: the sum of what its consumers sent'
>>> movie.gif[:6], movie.gif == animate(ex).gif
(b'GIF89a', True)
"""
from __future__ import annotations

import base64
import functools
import io
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.export import render
from explorer.format import cell

MAX_STEPS = 150       # frames of one animation: beyond, the app's step-through (its neighbourhood view) reads better
DEFAULT_FPS = 1.0     # steps a second: time to read a chain-rule line
HOLD_LAST = 3         # the last frame (every gradient in) stays this many steps' time
MAX_WIDTH = 1200      # pixels: a wider drawing is scaled down (the annotated DOT is at most 12 inches, 1152 px)
CAPTION_CHARS = 120   # a caption's line longer than this wraps (the caption's font: 12 pt monospace, ~9.6 px a char)
FORMATS = ("gif", "webp")
PENDING_FILL = "#ffffff"
PENDING_TEXT = "#9e9e9e"
PENDING_EDGE = "#cccccc"
_NODE_LINE = re.compile(r'^\t(\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')
_EDGE_LINE = re.compile(r'^\t(\S+) -> (\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')


@dataclass(frozen=True)
class Frame:
    """One step of backward as a frame shows it: the ``index``-th of ``count``, the ``node`` being run,
    its ``heading`` and chain-rule ``text``, and the ``dot`` of the graph at that moment."""

    index: int
    count: int
    node: int
    heading: str
    text: str
    dot: str

    @property
    def caption(self) -> str:
        """What is written under the graph, long lines wrapped (a vector's chain rule runs long)."""
        lines = f"Step {self.index} of {self.count - 1}: {self.heading}\n{self.text}".split("\n")
        return "\n".join(wrapped for line in lines for wrapped in
                         textwrap.wrap(line, CAPTION_CHARS, subsequent_indent="    ", break_on_hyphens=False))


def step_text(ex: Any, index: int) -> tuple[Any, str, str]:
    """``(node, heading, text)`` of step ``index`` of ``ex``'s backward in engine order: the step-through's words.

    >>> import explorer
    >>> node, heading, text = step_text(explorer.explore("2 * x", x=3), 0)
    >>> heading, text
    ('MulBackward0 (output)', 'output received 1\\n∂L/∂x = ∂L/∂output · ∂output/∂x = 1 · 2 = 2')
    """
    node = ex.nodes[index]
    heading = node.op + (f" ({node.label})" if node.label else "")
    if node.kind == "leaf":
        return node, heading, f"{node.name}.grad = {cell(node.grad)}: the sum of what its consumers sent"
    ran = ex.graph.step(node.id)   # this step's chain rule only: the others are not written out
    chain = ran.text if ran is not None else ""
    return node, heading, f"{node.name} received {cell(node.grad)}" + (f"\n{chain}" if chain else "")


def received_so_far(dot: str, graph: Any, index: int) -> str:
    """The annotated ``dot`` of ``graph`` as it stands at step ``index``: what has not arrived yet is greyed
    and its numbers dotted out (to the same width, so that Graphviz lays every frame out alike).

    A node's gradient has arrived once all its consumers have run (an output's is ``v``, there from the
    start); an edge's once its sender (the node it points to) has run.
    """
    step = {n.id: n.step for n in graph.nodes}
    consumers = {n.id: n.consumers for n in graph.nodes}

    def ran(node_id: int) -> bool:
        return step.get(node_id) is not None and step[node_id] <= index

    def arrived(node_id: int) -> bool:
        return ran(node_id) or all(ran(c) for c in consumers[node_id])

    lines = []
    for line in dot.split("\n"):
        node, edge = _NODE_LINE.match(line), _EDGE_LINE.match(line)
        if node and int(node[1]) in step and not arrived(int(node[1])):
            line = (f'\t{node[1]} [label="{_dotted(node[2])}"{node[3]} fillcolor="{PENDING_FILL}" '
                    f'fontcolor="{PENDING_TEXT}"]')
        elif edge and int(edge[2]) in step and not ran(int(edge[2])):
            line = (f'\t{edge[1]} -> {edge[2]} [label="{_dotted(edge[3])}"{edge[4]} color="{PENDING_EDGE}" '
                    f'fontcolor="{PENDING_EDGE}"]')
        lines.append(line)
    return "\n".join(lines)


def _dotted(label: str) -> str:
    """A DOT label with the numbers of its ``grad ...`` rows replaced by dots of the same width."""
    rows = label.split("\\n")
    for k, row in enumerate(rows):
        head, space, rest = row.partition(" ")
        if head.startswith("grad") and space:
            rows[k] = f"{head} {'·' * len(rest.replace(chr(92) * 2, chr(92)))}"
    return "\\n".join(rows)


def frames(ex: Any) -> list[Frame]:
    """Every frame of ``ex``'s backward: the engine's steps, then each leaf's completed gradient.

    A graph of more than :data:`MAX_STEPS` nodes is refused (``ValueError``): step through it in the app.
    """
    count = len(ex.nodes)
    if count > MAX_STEPS:
        raise ValueError(f"the animation draws one frame per step: this graph has {count:,} steps, at most "
                         f"{MAX_STEPS} are animated; step through it in the app instead")
    made = []
    for index in range(count):
        node, heading, text = step_text(ex, index)
        dot = received_so_far(ex.to_dot("annotated", highlight=node.id, max_nodes=max(count, 1)), ex.graph, index)
        made.append(Frame(index, count, node.id, heading, text, dot))
    return made


def _caption_dot(text: str) -> str:
    """A DOT drawing of ``text`` alone, left-aligned in the graph's monospace font."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l")
    return ('digraph { graph [margin=0 pad=0.15 bgcolor=white] node [shape=plaintext fontname=monospace '
            f'fontsize=12 margin=0] caption [label="{escaped}\\l"] }}\n')


def _image(dot: str):
    from PIL import Image

    return Image.open(io.BytesIO(render(dot, "png"))).convert("RGB")


def _composed(drawn: list[Frame]) -> list:
    """Each frame as an RGB image: the graph on top, its caption below, all on one canvas size."""
    from PIL import Image

    pictures = []
    for frame in drawn:
        graph, caption = _image(frame.dot), _image(_caption_dot(frame.caption))
        if graph.width > MAX_WIDTH:
            graph = graph.resize((MAX_WIDTH, round(graph.height * MAX_WIDTH / graph.width)), Image.LANCZOS)
        pictures.append((graph, caption))
    width = min(MAX_WIDTH, max(max(g.width, c.width) for g, c in pictures))
    graph_height = max(g.height for g, _ in pictures)
    height = graph_height + max(c.height for _, c in pictures)
    composed = []
    for graph, caption in pictures:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(graph, ((width - graph.width) // 2, 0))
        canvas.paste(caption, (0, graph_height))   # cut on the right if a formula is wider than the page
        composed.append(canvas)
    return composed


def encode(images: list, fmt: str, *, fps: float = DEFAULT_FPS, comment: str = "") -> bytes:
    """``images`` as an animated ``fmt`` (``"gif"`` or ``"webp"``, lossless), ``fps`` frames a second,
    the last held :data:`HOLD_LAST` times as long, looping; ``comment`` is kept in the file."""
    if fmt not in FORMATS:
        raise ValueError(f"an animation is one of {', '.join(FORMATS)}, not {fmt!r}")
    step = round(1000 / _checked_fps(fps))
    durations = [step] * (len(images) - 1) + [step * HOLD_LAST]
    out = io.BytesIO()
    if fmt == "gif":
        # One adaptive palette per frame, no dithering: flat fills and text, exact and small.
        frames_ = [im.quantize(colors=256, dither=0) for im in images]
        frames_[0].save(out, "GIF", save_all=True, append_images=frames_[1:], duration=durations, loop=0,
                        optimize=False, disposal=1, comment=comment.encode())
    else:
        images[0].save(out, "WEBP", save_all=True, append_images=images[1:], duration=durations, loop=0,
                       lossless=True, quality=100, method=4, exif=b"", xmp=comment.encode())
    return out.getvalue()


def _checked_fps(fps: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0.05 <= fps <= 30:
        raise ValueError(f"fps must be a number from 0.05 to 30, not {fps!r}")
    return fps


@dataclass(eq=False)
class Animation:
    """The backward pass of an exploration, animated: shows inline in Jupyter, ``save(path)`` writes it.

    ``frames`` are the steps (:class:`Frame`); ``gif`` and ``webp()`` the encoded files, made on first use.
    """

    exploration: Any
    fps: float = DEFAULT_FPS
    comment: str = ""

    @functools.cached_property
    def frames(self) -> list[Frame]:
        return frames(self.exploration)

    @functools.cached_property
    def images(self) -> list:
        """The frames as Pillow images (RGB, one size)."""
        return _composed(self.frames)

    def encoded(self, fmt: str = "gif") -> bytes:
        """The animation as ``fmt`` (``"gif"`` or ``"webp"``)."""
        return encode(self.images, fmt, fps=self.fps, comment=self.comment)

    @functools.cached_property
    def gif(self) -> bytes:
        return self.encoded("gif")

    def save(self, path: str | Path) -> Path:
        """Write the animation to ``path``, as GIF or WebP by its suffix."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValueError(f"{path.name}: an animation is a .gif or .webp file")
        path.write_bytes(self.gif if fmt == "gif" else self.encoded(fmt))
        return path

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.gif).decode("ascii")
        return (f'<img src="data:image/gif;base64,{data}" alt="the backward pass, step by step '
                f'({len(self.frames)} steps)">')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        source = getattr(self.exploration, "source", None) or "a traced graph"
        return f"<Animation of the backward pass of {source}: {len(self.exploration.nodes)} steps at {self.fps:g} fps>"


def animate(exploration: Any, *, fps: float = DEFAULT_FPS) -> Animation:
    """The backward pass of ``exploration`` as an animation, one frame a step (shown inline in Jupyter).

    >>> import explorer
    >>> animate(explorer.explore("sin(x)", x=1)).save  # doctest: +ELLIPSIS
    <bound method Animation.save of <Animation of the backward pass of sin(x): 2 steps at 1 fps>>
    """
    return Animation(exploration, fps=_checked_fps(fps))


__all__ = ["Animation", "DEFAULT_FPS", "Frame", "MAX_STEPS", "animate", "encode", "frames", "received_so_far",
           "step_text"]
