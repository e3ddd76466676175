import { useEffect, useRef } from "react";

/** Recent prices drawn on a canvas: cheap to redraw every frame for eight products. */
export function Sparkline(props: { values: number[]; up: boolean; width?: number; height?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const width = props.width ?? 140;
  const height = props.height ?? 36;
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx) return;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== width * ratio) {
      canvas.width = width * ratio;
      canvas.height = height * ratio;
    }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const values = props.values;
    if (values.length < 2) return;
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const span = max - min || Math.abs(max) * 1e-6 || 1;
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = (i / (values.length - 1)) * (width - 2) + 1;
      const y = height - 2 - ((v - min) / span) * (height - 4);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = props.up ? "#22c55e" : "#ef4444";
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }, [props.values, props.up, width, height]);
  return <canvas ref={ref} className="sparkline" style={{ width, height }} aria-hidden="true" />;
}
