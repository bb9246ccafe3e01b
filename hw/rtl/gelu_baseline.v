// The baseline fixed-point GELU and derivative (hw/hls/gelu_baseline.cpp) as Verilog,
// bit-exact with it: what the DAPA unit is compared against in the same yosys flow.
// One element per cycle; LATENCY = 11 fused (10 forward-only):
//   1 clamp, t = x/4   2 u = t^2   3-8 Horner steps of R and S   9 t R, t S
//   10 y = x Phi, d = Phi + x phi (and the tails)   11 dx = g d
`default_nettype none
module gelu_baseline #(
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
  localparam integer LATENCY = (FUSED != 0) ? 11 : 10;
  localparam signed [15:0] LO = -16'sd8192, HI = 16'sd8191;  // +-4 in Q4.11
  // R (Q11) and S (Q10), coefficient i at bits [16*i +: 16]
  localparam [111:0] R = {16'sd4104, -16'sd16932, 16'sd29844, -16'sd29883, 16'sd19206,
                          -16'sd8580, 16'sd3265};
  localparam [111:0] S = {16'sd5354, -16'sd19810, 16'sd30179, -16'sd24638, 16'sd11706,
                          -16'sd3197, 16'sd408};

`include "fixed_arith.vh"
  function automatic signed [47:0] mul48(input signed [15:0] a, input signed [15:0] b);
    mul48 = ext32(mul16(a, b));
  endfunction

  // Pipeline registers: index = stage.
  reg signed [15:0] xs[1:11], gs[1:11], ts[1:9], us[2:8], rs[2:8], ss[2:8];
  reg signed [15:0] h9, xpdf9, y10, d10, y11, dx11;
  /* verilator lint_off UNUSEDSIGNAL */
  wire signed [15:0] xc = (x < LO) ? LO : (x > HI) ? HI : x;  // its top bits are sign only
  /* verilator lint_on UNUSEDSIGNAL */
  integer i;
  always @(posedge clk) begin
    xs[1] <= x;
    gs[1] <= g;
    ts[1] <= {xc[13:0], 2'b00};  // x/4 in Q15
    for (i = 2; i <= 11; i = i + 1) begin
      xs[i] <= xs[i-1];
      gs[i] <= gs[i-1];
    end
    for (i = 2; i <= 9; i = i + 1) ts[i] <= ts[i-1];
    us[2] <= sat16(round_shift(mul48(ts[1], ts[1]), 15));
    rs[2] <= $signed(R[16*6+:16]);
    ss[2] <= $signed(S[16*6+:16]);
    for (i = 3; i <= 8; i = i + 1) begin
      us[i] <= us[i-1];
      rs[i] <= sat16(round_shift(mul48(rs[i-1], us[i-1]), 15) + ext16($signed(R[16*(8-i)+:16])));
      ss[i] <= sat16(round_shift(mul48(ss[i-1], us[i-1]), 15) + ext16($signed(S[16*(8-i)+:16])));
    end
    h9 <= sat16(round_shift(mul48(ts[8], rs[8]), 12));
    xpdf9 <= sat16(round_shift(mul48(ts[8], ss[8]), 9));
    if (xs[9] > HI) begin
      y10 <= xs[9];
      d10 <= 16'sd16384;
    end else if (xs[9] < LO) begin
      y10 <= 16'sd0;
      d10 <= 16'sd0;
    end else begin
      y10 <= sat16(round_shift(mul48(xs[9], h9 + 16'sd8192), 14));
      d10 <= sat16(ext16(h9 + 16'sd8192) + ext16(xpdf9));
    end
    y11  <= y10;
    dx11 <= sat16(round_shift(mul48(gs[10], d10), 14));
  end

  reg [LATENCY-1:0] valid = 0;
  always @(posedge clk) valid <= {valid[LATENCY-2:0], in_valid};
  assign out_valid = valid[LATENCY-1];
  generate
    if (FUSED != 0) begin : fused
      assign y  = y11;
      assign dx = dx11;
    end else begin : forward_only
      assign y  = y10;
      assign dx = 16'sd0;
      /* verilator lint_off UNUSEDSIGNAL */
      wire unused_gradient = ^{dx11, y11};
      /* verilator lint_on UNUSEDSIGNAL */
    end
  endgenerate
endmodule
`default_nettype wire
