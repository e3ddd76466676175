// Candlestick chart of one product, built from live ticks (seeded from the server's candles when
// it has them), with the bots' buys and sells marked.
import {
  CandlestickSeries,
  LineSeries,
  createChart,
  createSeriesMarkers,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useMemo, useRef, useState } from "react";
import { api, type Schemas } from "../../api/client";
import { dashboard } from "../../state/controller";
import { formatPrice, formatSize, isoToUnix } from "../../state/format";
import { useDashboard } from "../../state/store";
import { addTick, type Bar, barsFrom, bucket, onServer, TIMEFRAMES } from "./candles";
import { bollinger, ema, type LinePoint, macd, rsi, sma } from "./indicators";

type ChartIndicator = Schemas["ChartIndicator"];
const COLORS = ["#f59e0b", "#a78bfa", "#38bdf8", "#f472b6"];
const asLine = (points: LinePoint[]) => points.map((p) => ({ time: p.time as UTCTimestamp, value: p.value }));

/** One indicator's lines, computed from the bars: [values, series] pairs to set. */
function linesOf(ind: ChartIndicator, bars: Bar[]): LinePoint[][] {
  const times = bars.map((b) => b.time);
  const closes = bars.map((b) => b.close);
  const p = ind.params;
  switch (ind.kind) {
    case "ema":
      return [ema(times, closes, p.period ?? 12)];
    case "sma":
      return [sma(times, closes, p.period ?? 12)];
    case "bollinger": {
      const b = bollinger(times, closes, p.period ?? 20, p.deviations ?? 2);
      return [b.upper, b.middle, b.lower];
    }
    case "rsi":
      return [rsi(times, closes, p.period ?? 14)];
    case "macd": {
      const m = macd(times, closes, p.fast ?? 12, p.slow ?? 26, p.signal ?? 9);
      return [m.macd, m.signal];
    }
    default:
      return [];
  }
}

const LINE_COUNT: Record<string, number> = { bollinger: 3, macd: 2 };

const toChart = (b: Bar) => ({ ...b, time: b.time as UTCTimestamp });

export function CandleChart(props: { productId: string | null; botId?: number; height?: number }) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const series = useRef<ISeriesApi<"Candlestick"> | null>(null);
  const markersApi = useRef<ISeriesMarkersPluginApi<Time> | null>(null);
  const bars = useRef<Bar[]>([]);
  const [timeframe, setTimeframe] = useState("1m");
  const [source, setSource] = useState("");
  const trades = useDashboard((s) => s.trades);
  const [indicators, setIndicators] = useState<ChartIndicator[]>([]);
  const seconds = TIMEFRAMES[timeframe] ?? 60;
  const { productId, botId } = props;

  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const c = createChart(el, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: "#9aa4b2", attributionLogo: false },
      grid: { vertLines: { color: "#1f2733" }, horzLines: { color: "#1f2733" } },
      timeScale: { timeVisible: true, secondsVisible: true, borderColor: "#2a3441" },
      rightPriceScale: { borderColor: "#2a3441" },
    });
    const s = c.addSeries(CandlestickSeries, {
      upColor: "#22c55e",
      downColor: "#ef4444",
      borderVisible: false,
      wickUpColor: "#22c55e",
      wickDownColor: "#ef4444",
    });
    chart.current = c;
    series.current = s;
    markersApi.current = createSeriesMarkers(s, []);
    return () => {
      c.remove();
      chart.current = null;
      series.current = null;
      markersApi.current = null;
    };
  }, []);

  // Load history, then follow the ticks.
  useEffect(() => {
    const s = series.current;
    if (!s || !productId) return;
    let cancelled = false;
    bars.current = [];
    s.setData([]);
    const unsubscribe = dashboard()?.onTick((t) => {
      if (t.product_id !== productId || !series.current) return;
      const time = t.time || Date.now() / 1000;
      const bar = addTick(bars.current, time, t.price, seconds);
      series.current.update(toChart(bar));
    });
    void (async () => {
      if (!onServer(timeframe)) {
        setSource("built from live ticks");
        return;
      }
      try {
        const { candles } = await api.get("/api/v1/market/candles", {
          query: { product_id: productId, timeframe, limit: 300 },
        });
        if (cancelled) return;
        const history = barsFrom(candles);
        // Keep what the ticks already built for the newest bucket; history fills the past.
        const live = bars.current.filter((b) => !history.some((h) => h.time === b.time));
        bars.current = [...history, ...live].sort((a, b) => a.time - b.time);
        series.current?.setData(bars.current.map(toChart));
        setSource(`${history.length} candles from the server, then live ticks`);
      } catch (error) {
        if (!cancelled) setSource(`built from live ticks (candles: ${String(error)})`);
      }
    })();
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }, [productId, timeframe, seconds]);

  // The bot's own indicators (what its strategy trades on, with its periods), redrawn each second
  // from the bars the chart shows.
  useEffect(() => {
    if (botId === undefined) return;
    api.get("/api/v1/bots/{bot_id}/indicators", { path: { bot_id: botId } }).then(setIndicators, () => setIndicators([]));
  }, [botId]);

  useEffect(() => {
    const c = chart.current;
    if (!c || indicators.length === 0) return;
    const drawn = indicators.map((ind, i) => {
      const color = COLORS[i % COLORS.length] ?? "#f59e0b";
      const pane = ind.pane === "oscillator" ? 1 : 0;
      const series = Array.from({ length: LINE_COUNT[ind.kind] ?? 1 }, (_, j) =>
        c.addSeries(
          LineSeries,
          {
            color: j === 1 && ind.kind === "macd" ? "#94a3b8" : color,
            lineWidth: j === 1 && ind.kind === "bollinger" ? 1 : 2,
            lineStyle: ind.kind === "bollinger" && j !== 1 ? 2 : 0,
            priceLineVisible: false,
            lastValueVisible: j === 0,
            title: j === 0 ? ind.label : "",
          },
          pane,
        ),
      );
      for (const level of ind.levels ?? []) {
        series[0]?.createPriceLine({ price: level, color: "#64748b", lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: "" });
      }
      return { ind, series };
    });
    const draw = () => {
      for (const { ind, series } of drawn) {
        linesOf(ind, bars.current).forEach((points, j) => series[j]?.setData(asLine(points)));
      }
    };
    draw();
    const handle = setInterval(draw, 1000);
    return () => {
      clearInterval(handle);
      // On unmount the chart's own cleanup may already have removed the chart (and its series
      // with it); removing them again would throw inside lightweight-charts.
      if (chart.current !== c) return;
      for (const { series } of drawn) for (const s of series) c.removeSeries(s);
    };
  }, [indicators, productId, timeframe]);

  const markers = useMemo((): SeriesMarker<Time>[] => {
    if (!productId) return [];
    return trades
      .filter((t) => t.product_id === productId && (botId === undefined || t.bot_id === botId))
      .map((t) => {
        const when = isoToUnix(t.filled_at ?? t.created_at) ?? 0;
        const buy = t.side === "BUY";
        return {
          time: bucket(when, seconds) as UTCTimestamp,
          position: buy ? "belowBar" : "aboveBar",
          shape: buy ? "arrowUp" : "arrowDown",
          color: buy ? "#22c55e" : "#ef4444",
          // The fill itself: what was bought or sold, at what average price.
          text: `${buy ? "B" : "S"} ${formatSize(t.base_size)} @ ${formatPrice(t.price)}${botId === undefined ? ` #${t.bot_id}` : ""}`,
        } satisfies SeriesMarker<Time>;
      })
      .sort((a, b) => (a.time as number) - (b.time as number));
  }, [trades, productId, botId, seconds]);

  useEffect(() => {
    markersApi.current?.setMarkers(markers);
  }, [markers, source]);

  return (
    <div className="chart-wrap" data-testid="candle-chart">
      <div className="chart-toolbar">
        <strong>{productId ?? "—"}</strong>
        <div className="segmented" role="group" aria-label="Timeframe">
          {Object.keys(TIMEFRAMES).map((tf) => (
            <button type="button" key={tf} className={tf === timeframe ? "active" : ""} onClick={() => setTimeframe(tf)}>
              {tf}
            </button>
          ))}
        </div>
        <small className="muted">{source}</small>
        {indicators.length > 0 && (
          <small className="chart-legend" data-testid="chart-indicators">
            {indicators.map((ind, i) => (
              <span key={ind.label} style={{ color: COLORS[i % COLORS.length] }}>
                {ind.label}
              </span>
            ))}
          </small>
        )}
      </div>
      <div
        ref={container}
        className="chart"
        style={{ height: (props.height ?? 320) + (indicators.some((i) => i.pane === "oscillator") ? 120 : 0) }}
      />
    </div>
  );
}
