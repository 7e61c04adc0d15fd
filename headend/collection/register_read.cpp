#include "headend/collection/register_read.hpp"

#include <fmt/format.h>

#include "headend/collection/boundary_read.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/messages.hpp"

namespace ami::collection {

dlt645::Frame make_register_request_1997(const dlt645::Address& address, std::uint16_t di) {
  return dlt645::make_read_request_1997(address, di);
}

bool is_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply) {
  if (!reply.control.from_meter() || reply.control.function() != dlt645::fn1997::read) return false;
  if (reply.control.abnormal()) return true;
  dlt645::Message message;
  if (!dlt645::parse_message(reply, dlt645::Edition::v1997, message).ok()) return true;  // interpret says why
  return message.di == di;
}

RegisterReadResult interpret_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply) {
  RegisterReadResult result;
  dlt645::Message message;
  const auto status = dlt645::parse_message(reply, dlt645::Edition::v1997, message);
  if (!status.ok()) {
    result.detail = fmt::format("1997 read reply for {:04X}: {}", di, status.detail);
    return result;
  }
  if (message.abnormal) {
    result.outcome = Outcome::meter_error;
    result.detail = message.error_bits ? fmt::format("ERR {:02X}: {}", *message.error_bits,
                                                     describe_err(dlt645::Edition::v1997, *message.error_bits))
                                       : std::string("abnormal reply without ERR byte");
    return result;
  }
  const auto* item = dlt645::find_data_item(dlt645::Edition::v1997, di);
  if (item == nullptr || item->field_count < 1) {
    result.detail = fmt::format("DI {:04X} is not in the 1997 catalogue", di);
    return result;
  }
  const auto number = dlt645::decode_number(item->fields[0], message.value);
  if (!number) {
    result.detail = fmt::format("DI {:04X}: value is too short or not BCD", di);
    return result;
  }
  const auto wh = dlt645::to_wh(*number);
  if (!wh) {
    result.detail = fmt::format("DI {:04X}: value not available (all FF) or not in kWh", di);
    return result;
  }
  result.outcome = Outcome::ok;
  result.wh = wh;
  return result;
}

}  // namespace ami::collection
