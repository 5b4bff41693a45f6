// The 3D view: every person's mesh or skeleton and trajectory, the ground grid and the video's camera,
// in the scene's display frame (y up, metres). Vertices arrive quantised: int16 (n, V, 3) per person,
// drawn as a normalised attribute scaled by the person's cube (centre + half · q / 32767).
import * as THREE from 'three';
import { OrbitControls } from '/static/vendor/three/OrbitControls.js';

const v3 = (a) => new THREE.Vector3(a[0], a[1], a[2]);
/** Column j of a row-major 3×3 matrix (a list of rows) as a vector. */
const column = (m, j) => new THREE.Vector3(m[0][j], m[1][j], m[2][j]);

class Person {
  constructor(info, vertices, faces, parents, feet, groundY) {
    this.info = info;
    this.vertices = vertices;            // Int16Array, n·V·3
    this.numVertices = vertices.length / (3 * info.frame_ids.length);
    this.rows = new Map(info.frame_ids.map((f, row) => [f, row]));
    this.parents = parents;
    this.body = new THREE.Group();        // shown on the frames the person is in
    this.mesh = this.makeMesh(faces);
    this.skeleton = this.makeSkeleton();
    this.body.add(this.mesh, this.skeleton, ...this.makeContacts(feet, groundY));
    this.path = this.makeTrajectory();   // shown throughout
    this.visible = true;
    this.showPath = true;
  }

  makeMesh(faces) {
    const geometry = new THREE.BufferGeometry();
    const stride = this.numVertices * 3;
    geometry.setAttribute('position', new THREE.BufferAttribute(this.vertices.subarray(0, stride), 3, true));
    geometry.setIndex(new THREE.BufferAttribute(faces, 1));
    geometry.computeVertexNormals();
    const material = new THREE.MeshStandardMaterial({
      color: this.info.colour, roughness: 0.7, side: THREE.DoubleSide,
    });
    const mesh = new THREE.Mesh(geometry, material);
    mesh.position.copy(v3(this.info.centre));
    mesh.scale.setScalar(this.info.half);
    mesh.frustumCulled = false;          // the bounding sphere is the first frame's
    return mesh;
  }

  makeSkeleton() {
    const bones = this.parents.map((p, j) => [p, j]).filter(([p]) => p >= 0);
    this.bones = bones;
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(bones.length * 6), 3));
    const lines = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color: this.info.colour }));
    const ball = new THREE.SphereGeometry(0.02, 8, 6);
    const ballMaterial = new THREE.MeshStandardMaterial({ color: this.info.colour });
    this.balls = new THREE.InstancedMesh(ball, ballMaterial, this.parents.length);
    this.balls.frustumCulled = lines.frustumCulled = false;
    const group = new THREE.Group();
    group.add(lines, this.balls);
    group.visible = false;
    this.lines = lines;
    return group;
  }

  /** A ring on the ground under each foot, shown on the frames the world stage labels a contact. */
  makeContacts(feet, groundY) {
    if (!feet || !this.info.foot_contact) return [];
    this.feet = feet;
    this.groundY = groundY;
    const ring = new THREE.RingGeometry(0.06, 0.1, 24).rotateX(-Math.PI / 2);
    const material = new THREE.MeshBasicMaterial({ color: '#ffffff', side: THREE.DoubleSide });
    this.contacts = feet.map(() => new THREE.Mesh(ring, material));
    return this.contacts;
  }

  /** The root joint's path (its shadow on the ground is added by World3D, which knows the ground). */
  makeTrajectory() {
    this.rootPoints = this.info.joints.map((row) => new THREE.Vector3(row[0], row[1], row[2]));
    const geometry = new THREE.BufferGeometry().setFromPoints(this.rootPoints);
    const group = new THREE.Group();
    group.add(new THREE.Line(geometry, new THREE.LineBasicMaterial({ color: this.info.colour })));
    return group;
  }

  joint(row, j) {
    const r = this.info.joints[row];
    return [r[3 * j], r[3 * j + 1], r[3 * j + 2]];
  }

  /** Show the pose of video frame `frame` (hidden when the person is absent there). */
  setFrame(frame, mode) {
    const row = this.rows.get(frame);
    this.path.visible = this.visible && this.showPath;
    this.body.visible = this.visible && row !== undefined;
    if (row === undefined) return;
    this.mesh.visible = mode === 'mesh';
    this.skeleton.visible = mode === 'skeleton';
    if (mode === 'mesh') this.updateMesh(row); else this.updateSkeleton(row);
    this.contacts?.forEach((ring, side) => {
      const [x, , z] = this.joint(row, this.feet[side]);
      ring.position.set(x, this.groundY + 0.003, z);
      ring.visible = this.info.foot_contact[row][side] === 1;
    });
  }

  updateMesh(row) {
    const geometry = this.mesh.geometry;
    const stride = this.numVertices * 3;
    const position = geometry.getAttribute('position');
    position.array = this.vertices.subarray(row * stride, (row + 1) * stride);
    position.needsUpdate = true;
    geometry.computeVertexNormals();
  }

  updateSkeleton(row) {
    const position = this.lines.geometry.getAttribute('position');
    this.bones.forEach(([p, j], b) => {
      position.setXYZ(2 * b, ...this.joint(row, p));
      position.setXYZ(2 * b + 1, ...this.joint(row, j));
    });
    position.needsUpdate = true;
    const m = new THREE.Matrix4();
    this.parents.forEach((_, j) => this.balls.setMatrixAt(j, m.makeTranslation(...this.joint(row, j))));
    this.balls.instanceMatrix.needsUpdate = true;
  }
}

export class World3D {
  constructor(container, scene, faces, vertices) {
    this.scene = scene;
    this.container = container;
    this.mode = 'mesh';
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(window.devicePixelRatio);
    container.appendChild(this.renderer.domElement);
    this.world = new THREE.Scene();
    this.world.background = new THREE.Color('#1b1e23');
    this.world.add(new THREE.HemisphereLight('#ffffff', '#445066', 1.6));
    const sun = new THREE.DirectionalLight('#ffffff', 1.6);
    sun.position.set(2, 5, 3);
    this.world.add(sun);
    this.people = scene.people.map((info, i) =>
      new Person(info, vertices[i], faces, scene.parents, scene.foot_joints, scene.ground_y));
    this.people.forEach((p) => this.world.add(p.body, p.path));
    this.centre = this.peopleCentre();
    this.world.add(this.makeGround(), this.makeCamera());
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.01, 200);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.renderer.domElement.addEventListener('pointerdown', () => this.orbitView(false));
    this.orbitView(true);
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
  }

  /** Mean root position over every person and frame (where the orbit view looks). */
  peopleCentre() {
    const all = this.people.flatMap((p) => p.rootPoints);
    const c = new THREE.Vector3();
    all.forEach((p) => c.add(p));
    return all.length ? c.divideScalar(all.length) : new THREE.Vector3(0, 1, 3);
  }

  makeGround() {
    const y = this.scene.ground_y;
    const group = new THREE.Group();
    const grid = new THREE.GridHelper(20, 40, '#7a8494', '#3b424e');
    grid.position.set(Math.round(this.centre.x), y, Math.round(this.centre.z));
    group.add(grid);
    for (const p of this.people) {   // each path's shadow on the ground
      const flat = p.rootPoints.map((q) => new THREE.Vector3(q.x, y + 0.002, q.z));
      const line = new THREE.Line(new THREE.BufferGeometry().setFromPoints(flat),
        new THREE.LineBasicMaterial({ color: p.info.colour, transparent: true, opacity: 0.5 }));
      p.path.add(line);
    }
    return group;
  }

  /** The video camera: its centre and the image rectangle at 0.4 m, in the display frame. */
  makeCamera() {
    const { focal_px: f, rotation: r, position } = this.scene.camera;
    const { width: w, height: h } = this.scene.image;
    const d = 0.4, c = v3(position);
    const toDisplay = (x, y) => {
      const cam = [(x - w / 2) / f * d, (y - h / 2) / f * d, d];
      return new THREE.Vector3(...r.map((row) => row[0] * cam[0] + row[1] * cam[1] + row[2] * cam[2])).add(c);
    };
    const k = [toDisplay(0, 0), toDisplay(w, 0), toDisplay(w, h), toDisplay(0, h)];
    const up = toDisplay(w / 2, -0.25 * h);
    const pts = [c, k[0], c, k[1], c, k[2], c, k[3],          // centre to the corners
      k[0], k[1], k[1], k[2], k[2], k[3], k[3], k[0],          // the image rectangle
      k[0], up, up, k[1]];                                     // the 'up' triangle
    return new THREE.LineSegments(new THREE.BufferGeometry().setFromPoints(pts),
      new THREE.LineBasicMaterial({ color: '#e6ebf2' }));
  }

  /** Look through the video's camera (same centre, axes and vertical field of view). */
  cameraView() {
    const { focal_px: f, rotation: r, position } = this.scene.camera;
    this.controls.enabled = false;
    this.camera.fov = 2 * Math.atan(this.scene.image.height / 2 / f) * 180 / Math.PI;
    this.camera.position.copy(v3(position));
    // three's camera looks down −z with y up: camera axes (x, −y, −z) of the video's camera.
    const basis = new THREE.Matrix4().makeBasis(column(r, 0), column(r, 1).negate(), column(r, 2).negate());
    this.camera.quaternion.setFromRotationMatrix(basis);
    this.camera.updateProjectionMatrix();
    this.viewing = 'camera';
  }

  /** Orbit around the people; `reset` puts the view back at its start: from the side, people and camera in sight. */
  orbitView(reset) {
    if (this.viewing === 'orbit' && !reset) return;
    this.controls.enabled = true;
    this.camera.fov = 45;
    this.camera.updateProjectionMatrix();
    const cam = v3(this.scene.camera.position);
    this.controls.target.copy(this.centre).lerp(cam, 0.3);
    if (reset || this.viewing === undefined) {
      const toCam = new THREE.Vector3().subVectors(cam, this.centre).setY(0);
      const reach = Math.max(toCam.length(), 1);
      if (toCam.lengthSq() < 1e-6) toCam.set(0, 0, 1);
      const side = toCam.normalize().applyAxisAngle(new THREE.Vector3(0, 1, 0), 1.1).multiplyScalar(1.2 * reach + 2);
      this.camera.position.copy(this.controls.target).add(side).add(new THREE.Vector3(0, 0.5 * reach + 1, 0));
    }
    this.controls.update();
    this.viewing = 'orbit';
  }

  setMode(mode) { this.mode = mode; this.frame = undefined; }

  setTrajectories(on) { this.people.forEach((p) => { p.showPath = on; }); this.frame = undefined; }

  setPersonVisible(i, on) { this.people[i].visible = on; this.frame = undefined; }

  /** Pose everyone at video frame `frame` (skipped when already there). */
  setFrame(frame) {
    if (frame === this.frame) return;
    this.people.forEach((p) => p.setFrame(frame, this.mode));
    this.frame = frame;
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.container;
    if (!w || !h) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
  }

  render() {
    if (this.controls.enabled) this.controls.update();
    this.renderer.render(this.world, this.camera);
  }
}
