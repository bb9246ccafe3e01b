// The DAPA activation unit in Verilog, written to the same arithmetic as hw/hls and the
// integer golden model (dapa/fixed_point.h): the RTL twin that Verilator co-simulates
// bit for bit and yosys costs. Coefficients come from `dapa_coeffs.vh`, written by
// `dapa_export --verilog` from the same table as the HLS header.
//
// One element enters per cycle (II = 1) and leaves LATENCY cycles later:
//   stage 1  x clamped to the table's domain [DOMAIN_LO, DOMAIN_HI] (a softmax's exp;
//            all words otherwise, when the compares are constant and vanish), segment
//            k = #{j : breakpoint[j] <= x}: N-1 parallel comparators, summed
//   stage 2  products a[k]*x and (FUSED) g*a[k]; fitted mode: c[k]*x instead of g*a[k];
//            a shift-add table makes a[k]*v two shifts and an add (no DSP)
//   stage 3  y = sat(round_shift(a x) + b[k]); slope mode: dx = sat(round_shift(g a))
//   stage 4  fitted mode only: d = sat(round_shift(c x) + e[k]) is ready at stage 3,
//            dx = sat(round_shift(g d)) here
// An input outside the domain gets dx = 0.
// FUSED = 0 builds the forward-only unit.
`default_nettype none
module dapa_unit #(
    parameter integer FUSED = 1
) (
    input  wire               clk,
    input  wire               in_valid,
    input  wire signed [15:0] x,
    input  wire signed [15:0] g,
    output wire               out_valid,
    output wire signed [15:0] y,
    output wire signed [15:0] dx
);
`include "dapa_coeffs.vh"
  localparam integer N = DAPA_SEGMENTS;
  localparam integer FITTED = (DAPA_FITTED != 0 && FUSED != 0) ? 1 : 0;
  localparam integer LATENCY = (FITTED != 0) ? 4 : 3;

`include "fixed_arith.vh"

  // a[k] * v: a multiply, or for a shift-add table (DAPA_SHIFT_ADD) S1 2^P1 + S2 2^P2
  // times v, two shifts and an add (the unused branch is optimised away).
  function automatic signed [31:0] term(input signed [15:0] v, input signed [15:0] sign,
                                        input [3:0] shift);
    reg signed [31:0] t;
    t = $signed({{16{v[15]}}, v}) <<< shift;
    term = (sign > 0) ? t : (sign < 0) ? -t : 32'sd0;
  endfunction
  function automatic signed [31:0] slope_times(input [5:0] k, input signed [15:0] v);
    if (DAPA_SHIFT_ADD != 0)
      slope_times = term(v, $signed(DAPA_SLOPE_SIGN1[16*k+:16]), DAPA_SLOPE_SHIFT1[16*k+:4]) +
                    term(v, $signed(DAPA_SLOPE_SIGN2[16*k+:16]), DAPA_SLOPE_SHIFT2[16*k+:4]);
    else slope_times = mul16($signed(DAPA_SLOPE[16*k+:16]), v);
  endfunction

  // ---- stage 1: the clamp and the segment ----
  // (the clamp is generated only for a bounded table: synthesis does not fold the
  // compares against the word range's ends away by itself)
  localparam integer BOUNDED = (DAPA_DOMAIN_LO != 16'sh8000 || DAPA_DOMAIN_HI != 16'sh7fff) ? 1 : 0;
  wire outside;
  wire signed [15:0] xc;
  generate
    if (BOUNDED != 0) begin : clamp
      wire below = x < DAPA_DOMAIN_LO, above = x > DAPA_DOMAIN_HI;
      assign outside = below || above;
      assign xc = below ? DAPA_DOMAIN_LO : above ? DAPA_DOMAIN_HI : x;
    end else begin : full_range
      assign outside = 1'b0;
      assign xc = x;
    end
  endgenerate
  reg [5:0] k_comb;
  integer j;
  always @* begin
    k_comb = 6'd0;
    for (j = 0; j < N - 1; j = j + 1)
      k_comb = k_comb + {5'd0, xc >= $signed(DAPA_BREAKPOINTS[16*j+:16])};
  end
  reg [5:0] k1;
  reg signed [15:0] x1, g1;
  reg inside1, inside2;
  always @(posedge clk) begin
    k1 <= k_comb;
    x1 <= xc;
    g1 <= g;
    inside1 <= !outside;
    inside2 <= inside1;
  end

  // ---- stage 2: the coefficients and the products ----
  reg signed [31:0] p2;
  reg signed [15:0] b2;
  always @(posedge clk) begin
    p2 <= slope_times(k1, x1);
    b2 <= $signed(DAPA_INTERCEPT[16*k1+:16]);
  end

  // ---- stage 3: round, add, saturate ----
  reg signed [15:0] y3;
  always @(posedge clk) y3 <= sat16(round_shift(ext32(p2), DAPA_SHIFT_FORWARD) + ext16(b2));

  reg [LATENCY-1:0] valid = 0;
  always @(posedge clk) valid <= {valid[LATENCY-2:0], in_valid};
  assign out_valid = valid[LATENCY-1];

  generate
    if (FITTED != 0) begin : fitted_gradient
      reg signed [31:0] pc2;
      reg signed [15:0] e2, g2, d3, g3, y4, dx4;
      reg inside3;
      always @(posedge clk) begin
        inside3 <= inside2;
        pc2 <= mul16($signed(DAPA_DSLOPE[16*k1+:16]), x1);
        e2  <= $signed(DAPA_DINTERCEPT[16*k1+:16]);
        g2  <= g1;
        d3  <= sat16(round_shift(ext32(pc2), DAPA_SHIFT_DERIVATIVE) + ext16(e2));
        g3  <= g2;
        y4  <= y3;
        dx4 <= inside3 ? sat16(round_shift(ext32(mul16(g3, d3)), DAPA_SHIFT_BACKWARD)) : 16'sd0;
      end
      assign y  = y4;
      assign dx = dx4;
    end else if (FUSED != 0) begin : slope_gradient
      reg signed [31:0] q2;
      reg signed [15:0] dx3;
      always @(posedge clk) begin
        q2  <= slope_times(k1, g1);
        dx3 <= inside2 ? sat16(round_shift(ext32(q2), DAPA_SHIFT_BACKWARD)) : 16'sd0;
      end
      assign y  = y3;
      assign dx = dx3;
    end else begin : forward_only
      assign y  = y3;
      assign dx = 16'sd0;
      /* verilator lint_off UNUSEDSIGNAL */
      wire unused_gradient = ^{g1, inside2};  // the gradient port is not wired in this build
      /* verilator lint_on UNUSEDSIGNAL */
    end
  endgenerate
endmodule
`default_nettype wire
