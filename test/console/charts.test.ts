import { describe, expect, it } from "vitest";
import { columnLayout, hbarLayout, lineLayout, niceMax, ticks } from "../../functions/console/lib/charts";

describe("chart geometry", () => {
  it("rounds the axis up to 1, 2 or 5 × 10^k", () => {
    expect([0, -3, NaN, 0.3, 1, 3, 7, 10, 11, 180, 2001].map(niceMax)).toEqual([1, 1, 1, 0.5, 1, 5, 10, 10, 20, 200, 5000]);
  });

  it("puts ticks on whole numbers for counts", () => {
    expect(ticks(1)).toEqual([0, 1]);
    expect(ticks(2)).toEqual([0, 1, 2]);
    expect(ticks(5)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ticks(20)).toEqual([0, 5, 10, 15, 20]);
    expect(ticks(0.5)).toEqual([0, 0.13, 0.25, 0.38, 0.5]);
  });

  it("horizontal bars: the largest fills the plot, the rest in proportion, zero is empty, tiny is visible", () => {
    const l = hbarLayout(
      [
        { label: "IT", value: 100 },
        { label: "GR", value: 50 },
        { label: "DE", value: 0 },
        { label: "FR", value: 0.01 },
      ],
      { width: 400, labelWidth: 100, rowHeight: 20 },
    );
    expect(l.plotWidth).toBe(252);
    expect(l.bars.map((b) => b.width)).toEqual([252, 126, 0, 1]);
    expect(l.bars.map((b) => b.y)).toEqual([0, 20, 40, 60]);
    expect(l.height).toBe(80);
  });

  it("horizontal bars with no data or all zeros draw nothing and do not divide by zero", () => {
    expect(hbarLayout([]).bars).toEqual([]);
    expect(hbarLayout([{ label: "a", value: 0 }]).bars[0].width).toBe(0);
  });

  it("columns share a y axis from zero to a round maximum; each sits in its slot", () => {
    const l = columnLayout(
      [
        { label: "d1", value: 4 },
        { label: "d2", value: 0 },
        { label: "d3", value: 2 },
        { label: "d4", value: 3 },
      ],
      { width: 440, height: 130 },
    );
    expect(l.max).toBe(5);
    expect(l.plot).toEqual({ x: 40, y: 8, w: 392, h: 100 });
    expect(l.columns.map((c) => c.h)).toEqual([80, 0, 40, 60]);
    expect(l.columns.map((c) => c.y + c.h)).toEqual([108, 108, 108, 108]); // all on the baseline
    expect(l.columns[1].x - l.columns[0].x).toBeCloseTo(98, 5);
    expect(l.yTicks.map((t) => t.value)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(l.yTicks[0].y).toBe(108);
    expect(l.yTicks[5].y).toBe(8);
  });

  it("labels only every k-th column on a long axis", () => {
    const data = Array.from({ length: 30 }, (_, i) => ({ label: `d${i}`, value: i }));
    const l = columnLayout(data);
    expect(l.xLabels.map((x) => x.label)).toEqual(["d0", "d5", "d10", "d15", "d20", "d25"]);
  });

  it("a line goes through every point, and its area closes on the baseline", () => {
    const l = lineLayout(
      [
        { label: "a", value: 0 },
        { label: "b", value: 10 },
        { label: "c", value: 5 },
      ],
      { width: 240, height: 130 },
    );
    expect(l.points.map((p) => [p.x, p.y])).toEqual([
      [40, 108],
      [136, 8],
      [232, 58],
    ]);
    expect(l.path).toBe("M40 108 L136 8 L232 58");
    expect(l.area).toBe("M40 108 L136 8 L232 58 L232 108 L40 108 Z");
  });

  it("a one-point line sits in the middle", () => {
    const l = lineLayout([{ label: "only", value: 3 }], { width: 240 });
    expect(l.points[0].x).toBe(136);
  });
});
