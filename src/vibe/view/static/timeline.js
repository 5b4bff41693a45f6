// Time on the page: frame times (seconds, from results.npz) ↔ frame index, and the clock the
// 3D view follows — the video's own currentTime, or a wall clock when there is no video.

/** Largest i with times[i] <= t (times increasing, relative to the first frame); 0 before the start. */
export function frameAt(times, t) {
  let lo = 0, hi = times.length - 1;
  if (t >= times[hi]) return hi;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t + 1e-6) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** Seconds into frame i's display interval where a seek lands (its middle, so rounding never shows i - 1). */
export function seekTime(times, i) {
  const next = i + 1 < times.length ? times[i + 1] : times[i] + (times.length > 1 ? times[1] - times[0] : 1 / 30);
  return times[i] + 0.5 * (next - times[i]);
}

export class Clock {
  /** times: (N,) seconds of each frame, first at 0; video: an HTMLVideoElement or null. */
  constructor(times, video) {
    this.times = times;
    this.video = video;
    this.ownTime = 0;
    this.ownPlaying = false;
    this.lastTick = 0;
  }

  get playing() {
    return this.video ? !this.video.paused && !this.video.ended : this.ownPlaying;
  }

  /** The current time in seconds (advances the wall clock when there is no video). */
  now() {
    if (this.video) return this.video.currentTime;
    if (this.ownPlaying) {
      const tick = performance.now();
      this.ownTime += (tick - this.lastTick) / 1000;
      this.lastTick = tick;
      const end = this.times[this.times.length - 1];
      if (this.ownTime >= end) { this.ownTime = end; this.ownPlaying = false; }
    }
    return this.ownTime;
  }

  frame() {
    return frameAt(this.times, this.now());
  }

  play() {
    if (this.video) {
      if (this.video.ended) this.video.currentTime = 0;
      return this.video.play();
    }
    if (this.ownTime >= this.times[this.times.length - 1]) this.ownTime = 0;
    this.ownPlaying = true;
    this.lastTick = performance.now();
    return Promise.resolve();
  }

  pause() {
    if (this.video) this.video.pause(); else this.ownPlaying = false;
  }

  /** Show frame i; resolves once the video has shown it. */
  seekFrame(i) {
    i = Math.max(0, Math.min(Math.round(i), this.times.length - 1));
    const t = seekTime(this.times, i);
    if (!this.video) { this.ownTime = this.times[i]; return Promise.resolve(); }
    return new Promise((resolve) => {
      const done = () => { this.video.removeEventListener('seeked', done); resolve(); };
      this.video.addEventListener('seeked', done);
      this.video.currentTime = t;
    });
  }
}
