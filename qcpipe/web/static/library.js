// The training library: one clip plays at a time (starting one pauses the others).
"use strict";
(() => {
  const clips = Array.from(document.querySelectorAll("audio.clip"));
  for (const clip of clips) {
    clip.addEventListener("play", () => {
      for (const other of clips) {
        if (other !== clip && !other.paused) other.pause();
      }
    });
  }
})();
