// exp(z) for z <= 0 computed directly in 16-bit fixed point: the Verilog twin of
// hw/hls/exp_direct.h (same words; see there for the method), the exp stage of the
// baseline softmax row unit. z in Q(FRAC_X), y in Q(FRAC_Y). One element per cycle:
//   stage 1  t = z log2(e)                          (multiplier 1)
//   stage 2  n = floor(t), f = frac(t) in Q15; q = c2 + f c3   (multiplier 2)
//   stage 3  q = c1 + f q                           (multiplier 3)
//   stage 4  q = c0 + f q                           (multiplier 4)
//   stage 5  y = round_shift(q, 14 - FRAC_Y - n), 0 once the shift passes 31
`default_nettype none
module exp_direct #(
    parameter integer FRAC_X = 7,
    parameter integer FRAC_Y = 9
) (
    input  wire               clk,
    input  wire               in_valid,
    input  wire signed [15:0] x,
    output wire               out_valid,
    output wire signed [15:0] y
);
`include "fixed_arith.vh"
  localparam integer LATENCY = 5;
  localparam integer POINT = FRAC_X + 14;  // t's binary point
  localparam integer F_RIGHT = (POINT >= 15) ? POINT - 15 : 0;
  localparam integer F_LEFT = (POINT >= 15) ? 0 : 15 - POINT;
  localparam signed [15:0] LOG2E = 16'sd23637;  // Q14
  localparam signed [15:0] C0 = 16'sd16383, C1 = 16'sd11401, C2 = 16'sd3704, C3 = 16'sd1278;

  function automatic signed [15:0] horner(input signed [15:0] c, input signed [15:0] q,
                                          input signed [15:0] f);
    /* verilator lint_off UNUSEDSIGNAL */
    reg signed [47:0] h;
    /* verilator lint_on UNUSEDSIGNAL */
    h = ext16(c) + round_shift(ext32(mul16(q, f)), 15);  // below 2^15
    horner = h[15:0];
  endfunction

  reg signed [31:0] t1;
  always @(posedge clk) t1 <= mul16(x, LOG2E);

  wire signed [31:0] n_w = t1 >>> POINT;
  wire [31:0] frac_w = t1 & ((32'd1 << POINT) - 32'd1);
  /* verilator lint_off UNUSEDSIGNAL */
  wire [31:0] f_full = (frac_w >> F_RIGHT) << F_LEFT;  // below 2^15
  /* verilator lint_on UNUSEDSIGNAL */
  wire signed [15:0] f_w = $signed({1'b0, f_full[14:0]});
  reg signed [31:0] n2, n3, n4;
  reg signed [15:0] f2, f3, q2, q3, q4, y5;
  always @(posedge clk) begin
    n2 <= n_w;
    f2 <= f_w;
    q2 <= horner(C2, C3, f_w);
    n3 <= n2;
    f3 <= f2;
    q3 <= horner(C1, q2, f2);
    n4 <= n3;
    q4 <= horner(C0, q3, f3);
  end
  wire signed [31:0] shift4 = 32'sd14 - FRAC_Y - n4;
  always @(posedge clk) y5 <= (shift4 > 32'sd31) ? 16'sd0 : sat16(round_shift(ext16(q4), shift4));

  reg [LATENCY-1:0] valid = 0;
  always @(posedge clk) valid <= {valid[LATENCY-2:0], in_valid};
  assign out_valid = valid[LATENCY-1];
  assign y = y5;
endmodule
`default_nettype wire
