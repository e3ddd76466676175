import { describe, expect, it } from "vitest";
import { fieldOfError, fieldsOf, humanLabel, paramsFrom, sentence } from "./schemaForm";

const schema = {
  properties: {
    fast: { type: "integer", minimum: 2, maximum: 500, default: 12, description: "Period of the fast average, in bars." },
    slow: { type: "integer", minimum: 3, default: 26, description: "Period of the slow average, in bars." },
    order_pct: { type: "number", exclusiveMinimum: 0, maximum: 100, default: 25 },
  },
};

describe("schema form", () => {
  it("labels fields for people, with their units", () => {
    const fields = fieldsOf(schema);
    expect(fields.map((f) => [f.label, f.unit])).toEqual([
      ["Fast", "bars"],
      ["Slow", "bars"],
      ["Order size", "%"],
    ]);
    expect(humanLabel("take_profit_pct")).toBe("Take profit");
    expect(humanLabel("rsi_period")).toBe("RSI period");
  });

  it("checks bounds in sentences before the server does", () => {
    const { errors } = paramsFrom(fieldsOf(schema), { fast: "1", order_pct: "0" });
    expect(errors.fast).toBe("Fast must be at least 2 bars.");
    expect(errors.order_pct).toBe("Order size must be more than 0%.");
  });

  it("turns pydantic's messages into sentences on the field they are about", () => {
    const fields = fieldsOf(schema);
    expect(fieldOfError(["body", "params"], "Value error, fast must be shorter than slow", fields)).toBe("params.fast");
    expect(fieldOfError(["body", "params", "slow"], "x", fields)).toBe("params.slow");
    expect(fieldOfError(["body", "budget"], "x", fields)).toBe("budget");
    expect(sentence("Fast", "Value error, fast must be shorter than slow")).toBe("Fast must be shorter than slow.");
    expect(fieldOfError(["body", "params"], "params: Value error, fast must be shorter than slow", fields)).toBe("params.fast");
    expect(sentence("Fast", "params: Value error, fast must be shorter than slow")).toBe("Fast must be shorter than slow.");
    expect(sentence("Slow", "Input should be greater than or equal to 3")).toBe("Slow must be at least 3.");
    expect(sentence("Budget", "budget must be at most 1000000 (STREAMBOT_MAX_BOT_BUDGET), not 1E+30")).toBe(
      "Budget must be at most 1000000 (STREAMBOT_MAX_BOT_BUDGET), not 1E+30.",
    );
  });
});
