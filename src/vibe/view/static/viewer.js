// Entry point: loads the scene the server built from the result folder, wires the video, the timeline
// and the 3D view together, and exposes `window.vibeViewer` (used by the browser tests).
import { Clock, frameAt } from '/static/timeline.js';
import { World3D } from '/static/world.js';

const $ = (id) => document.getElementById(id);

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function loadScene() {
  const scene = await (await fetch('/data/scene.json')).json();
  const [faces, ...vertices] = await Promise.all([
    fetchBytes(scene.faces_url).then((b) => new Uint32Array(b)),
    ...scene.people.map((p) => fetchBytes(p.vertices_url).then((b) => new Int16Array(b))),
  ]);
  return { scene, faces, vertices };
}

/** Load a video into the element; resolves when its first frame can be shown (or it failed). */
function loadVideo(video, url) {
  return new Promise((resolve) => {
    const done = () => {
      video.removeEventListener('loadeddata', done);
      video.removeEventListener('error', done);
      resolve();
    };
    video.addEventListener('loadeddata', done);
    video.addEventListener('error', done);
    video.src = url;
  });
}

function describe(scene) {
  const frame = scene.frame === 'world' ? 'world frame (y up, ground at 0)' : 'camera frame (fallback)';
  $('title').textContent = `vibe view · ${scene.people.length} ${scene.people.length === 1 ? 'person' : 'people'}`;
  $('frame-label').textContent = frame;
  $('notes').textContent = scene.notes.join(' ');
}

function personToggles(scene, world) {
  scene.people.forEach((p, i) => {
    const label = document.createElement('label');
    label.className = 'person-toggle';
    label.innerHTML = `<input type="checkbox" checked data-person="${i}">`
      + `<span class="swatch" style="background:${p.colour}"></span>person ${p.id}`;
    label.querySelector('input').addEventListener('change', (e) => world.setPersonVisible(i, e.target.checked));
    $('people').appendChild(label);
  });
}

async function setUpVideo(scene, video) {
  if (!scene.videos.length) {
    video.hidden = true;
    $('no-video').hidden = false;
    return null;
  }
  const select = $('video-select');
  scene.videos.forEach((v) => select.add(new Option(v.label, v.url)));
  select.addEventListener('change', async () => {
    const t = video.currentTime;
    await loadVideo(video, select.value);
    video.currentTime = t;
  });
  await loadVideo(video, scene.videos[0].url);
  return video;
}

function wireControls(clock, world, times) {
  const scrub = $('scrub');
  scrub.max = String(times.length - 1);
  const toggle = async () => { if (clock.playing) clock.pause(); else await clock.play(); };
  $('play').addEventListener('click', toggle);
  document.addEventListener('keydown', (e) => {
    // Space plays/pauses, except on controls that Space itself operates.
    const own = ['BUTTON', 'SELECT'].includes(e.target.tagName) || ['checkbox', 'radio'].includes(e.target.type);
    if (e.code === 'Space' && !own) { e.preventDefault(); toggle(); }
  });
  scrub.addEventListener('input', () => { clock.pause(); clock.seekFrame(Number(scrub.value)); });
  scrub.addEventListener('pointerdown', () => { scrub.dataset.dragging = '1'; });
  window.addEventListener('pointerup', () => { delete scrub.dataset.dragging; });
  document.querySelectorAll('input[name=body]').forEach((r) =>
    r.addEventListener('change', () => world.setMode(r.value)));
  $('trajectories').addEventListener('change', (e) => world.setTrajectories(e.target.checked));
  $('camera-view').addEventListener('click', () => world.cameraView());
  $('orbit-view').addEventListener('click', () => world.orbitView(true));
}

function startLoop(clock, world, times) {
  const scrub = $('scrub');
  world.renderer.setAnimationLoop(() => {
    const frame = clock.frame();
    world.setFrame(frame);
    if (!scrub.dataset.dragging) scrub.value = String(frame);
    $('play').textContent = clock.playing ? 'Pause' : 'Play';
    $('time').textContent = `${times[frame].toFixed(2)} s · frame ${frame}`;
    world.render();
  });
}

async function main() {
  const { scene, faces, vertices } = await loadScene();
  describe(scene);
  const times = scene.frame_times_s.map((t) => t - scene.frame_times_s[0]);
  const video = await setUpVideo(scene, $('video'));
  const clock = new Clock(times, video);
  const world = new World3D($('view3d'), scene, faces, vertices);
  personToggles(scene, world);
  wireControls(clock, world, times);
  startLoop(clock, world, times);
  window.vibeViewer = {
    scene,
    world,
    clock,
    frameAt: (t) => frameAt(times, t),
    /** Show frame i and draw it; resolves when the video and the 3D view both show it. */
    async showFrame(i) {
      clock.pause();
      await clock.seekFrame(i);
      world.setFrame(clock.frame());
      world.render();
      return clock.frame();
    },
  };
  document.body.dataset.ready = '1';
}

main().catch((err) => {
  $('notes').textContent = `could not load the scene: ${err.message}`;
  console.error(err);
});
