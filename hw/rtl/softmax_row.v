// The softmax row unit in Verilog: the twin of hw/hls/softmax_row.cpp, bit-exact with the
// integer golden model (dapa/softmax_row.h), co-simulated by Verilator and costed by yosys.
//
// A row of scores streams in (score, in_valid, in_last on its final score; accepted while
// in_ready), its probabilities stream out (out_valid, out_last) as Q0.16 words:
//   LOAD   one score per cycle into the row buffer (DEPTH x 16 bits, block RAM), and the
//          running maximum m
//   EXP    one per cycle: read s, z = sat16(round_shift(s - m, SCORE_FRAC - DAPA_FRAC_X))
//          (scores in Q(SCORE_FRAC), z in the table's Q(frac_x)), the exp stage
//          (DIRECT_EXP = 0: the DAPA unit on the softmax table; 1: exp_direct, the
//          baseline), e = max(0, y) written back over s, sum += e
//   RECIP  five cycles, once per row: bit length b of the sum and the Q15 mantissa; the
//          seed (a 64-word ROM); M r0; t = 2 - M r0; r = r0 t
//   NORM   one per cycle: p = min(65535, round_shift(e r, b - 1))
// A row takes about 3 n cycles plus the pipelines' depths (the co-simulation measures it),
// and the next row is accepted once the last probability has left. A row longer than
// DEPTH keeps its first DEPTH scores (the rest are accepted and dropped) and raises
// out_overflow with its last probability.
`default_nettype none
module softmax_row #(
    parameter integer DIRECT_EXP = 0,
    parameter integer DEPTH = 1024,
    parameter integer SCORE_FRAC = 8
) (
    input  wire               clk,
    input  wire               rst,
    input  wire               in_valid,
    input  wire               in_last,
    input  wire signed [15:0] score,
    output wire               in_ready,
    output reg                out_valid,
    output reg                out_last,
    output reg         [15:0] p,
    output reg                out_overflow
);
`include "dapa_coeffs.vh"
`include "fixed_arith.vh"
  localparam integer ADDR = $clog2(DEPTH);
  localparam [1:0] LOAD = 2'd0, EXP = 2'd1, RECIP = 2'd2, NORM = 2'd3;
  localparam integer SEED_BITS = 6;
  localparam [ADDR:0] CAPACITY = DEPTH[ADDR:0];

  reg [1:0] state = LOAD;
  reg [ADDR:0] len = 0, issued = 0, returned = 0;  // counts up to DEPTH
  reg signed [15:0] m = 16'sh8000;
  reg [31:0] sum = 0;
  reg overflow = 0;

  // ---- the row buffer: one write port, one registered read port ----
  reg signed [15:0] row[0:DEPTH-1];
  reg we;
  reg [ADDR-1:0] waddr;
  reg signed [15:0] wdata;
  reg signed [15:0] rdata;
  wire [ADDR-1:0] raddr = issued[ADDR-1:0];
  always @(posedge clk) begin
    if (we) row[waddr] <= wdata;
    rdata <= row[raddr];
  end

  // ---- the exp stage ----
  wire issuing = (state == EXP || state == NORM) && issued < len;
  reg read1 = 0;  // rdata holds an issued element
  always @(posedge clk) read1 <= issuing;
  wire signed [16:0] diff = {rdata[15], rdata} - {m[15], m};
  localparam integer SCORE_SHIFT = SCORE_FRAC - DAPA_FRAC_X;
  wire signed [15:0] z = sat16(round_shift({{31{diff[16]}}, diff}, SCORE_SHIFT));
  wire exp_in = read1 && state == EXP;
  wire exp_valid;
  wire signed [15:0] exp_y;
  generate
    if (DIRECT_EXP != 0) begin : direct
      exp_direct #(
          .FRAC_X(DAPA_FRAC_X),
          .FRAC_Y(DAPA_FRAC_Y)
      ) unit (
          .clk(clk),
          .in_valid(exp_in),
          .x(z),
          .out_valid(exp_valid),
          .y(exp_y)
      );
    end else begin : table_exp
      /* verilator lint_off PINCONNECTEMPTY */
      dapa_unit #(
          .FUSED(0)
      ) unit (
          .clk(clk),
          .in_valid(exp_in),
          .x(z),
          .g(16'sd0),
          .out_valid(exp_valid),
          .y(exp_y),
          .dx()
      );
      /* verilator lint_on PINCONNECTEMPTY */
    end
  endgenerate
  wire signed [15:0] e = exp_y[15] ? 16'sd0 : exp_y;

  // ---- the reciprocal ----
  wire [15:0] seed[0:(1<<SEED_BITS)-1];
  genvar gi;
  generate
    for (gi = 0; gi < (1 << SEED_BITS); gi = gi + 1) begin : seeds
      localparam integer DEN = (1 << (SEED_BITS + 1)) + 2 * gi + 1;
      localparam integer WORD = ((1 << (16 + SEED_BITS + 2)) + DEN) / (2 * DEN);
      assign seed[gi] = WORD[15:0];
    end
  endgenerate
  reg [5:0] bits_of_sum;
  integer j;
  always @* begin
    bits_of_sum = 6'd0;
    for (j = 0; j < 32; j = j + 1) if (sum[j]) bits_of_sum = j[5:0] + 6'd1;
  end
  reg [2:0] step = 0;
  reg [15:0] mantissa, r0;
  reg [4:0] shift;
  reg [32:0] two_minus;
  reg [16:0] t, r;
  // (the upper bits of these are zero or dropped by design)
  /* verilator lint_off UNUSEDSIGNAL */
  wire [31:0] normalised = (bits_of_sum > 6'd16) ? sum >> (bits_of_sum - 6'd16)
                                                 : sum << (6'd16 - bits_of_sum);
  wire [31:0] m_r0 = {16'd0, mantissa} * {16'd0, r0};
  wire [47:0] t_w = round_shift({15'd0, two_minus}, 16);
  wire [47:0] r_w = round_shift({15'd0, {17'd0, r0} * {16'd0, t}}, 15);
  /* verilator lint_on UNUSEDSIGNAL */
  always @(posedge clk) begin
    if (state == RECIP) begin
      case (step)
        3'd0: begin
          mantissa <= normalised[15:0];
          shift <= bits_of_sum[4:0] - 5'd1;
        end
        3'd1: r0 <= seed[mantissa[14:15-SEED_BITS]];
        3'd2: two_minus <= 33'h100000000 - {1'b0, m_r0};
        3'd3: t <= t_w[16:0];
        3'd4: r <= r_w[16:0];
        default: ;
      endcase
    end
  end

  // ---- normalise: e r, rounded, shifted and saturated ----
  reg [32:0] product;
  reg norm1 = 0, last1 = 0;
  /* verilator lint_off UNUSEDSIGNAL */
  wire [47:0] q = round_shift({15'd0, product}, {27'd0, shift});
  /* verilator lint_on UNUSEDSIGNAL */
  always @(posedge clk) begin
    norm1 <= read1 && state == NORM;
    last1 <= read1 && state == NORM && returned == len - 1;
    product <= {17'd0, rdata[15:0]} * {16'd0, r};
  end

  // ---- the write port: a score while loading, its exp during EXP ----
  always @* begin
    we = 1'b0;
    waddr = len[ADDR-1:0];
    wdata = score;
    if (state == LOAD && in_valid && len < CAPACITY) we = 1'b1;
    else if (state == EXP && exp_valid) begin
      we = 1'b1;
      waddr = returned[ADDR-1:0];
      wdata = e;
    end
  end
  assign in_ready = state == LOAD && !rst;

  // ---- the control ----
  always @(posedge clk) begin
    out_valid <= norm1;
    out_last <= last1;
    out_overflow <= last1 && overflow;
    p <= (q > 48'd65535) ? 16'hffff : q[15:0];
    if (rst) begin
      state <= LOAD;
      len <= 0;
      m <= 16'sh8000;
      overflow <= 1'b0;
      out_valid <= 1'b0;
      out_last <= 1'b0;
    end else begin
      case (state)
        LOAD:
        if (in_valid) begin
          if (len < CAPACITY) begin
            len <= len + 1'b1;
            if (score > m) m <= score;
          end else overflow <= 1'b1;
          if (in_last) begin
            state <= EXP;
            issued <= 0;
            returned <= 0;
            sum <= 0;
          end
        end
        EXP: begin
          if (issuing) issued <= issued + 1'b1;
          if (exp_valid) begin
            sum <= sum + {16'd0, e};
            returned <= returned + 1'b1;
            if (returned == len - 1) begin
              state <= RECIP;
              step  <= 0;
            end
          end
        end
        RECIP: begin
          step <= step + 3'd1;
          if (step == 3'd4) begin
            state <= NORM;
            issued <= 0;
            returned <= 0;
          end
        end
        NORM: begin
          if (issuing) issued <= issued + 1'b1;
          if (read1) returned <= returned + 1'b1;
          if (last1) begin
            state <= LOAD;
            len <= 0;
            m <= 16'sh8000;
            overflow <= 1'b0;
          end
        end
      endcase
    end
  end
endmodule
`default_nettype wire
